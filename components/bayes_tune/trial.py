"""One bayes_tune configuration, evaluated once: what each training job of a SageMaker tuning job runs.

On SageMaker the tuning job's Bayesian search picks the configurations; each of its training jobs runs
`bayes_tune_trial` (the image's `train` script -> `python -m greenpipe.run <this step> --sagemaker=training`).
The tuned values arrive as SageMaker HyperParameters strings, gathered by greenpipe.run into
`tuned_hyperparameters`; the other params are the tuning step's own (StaticHyperParameters). The trial fits the
estimator on the same holdout split bayes_tune uses, in the same rungs, prints the objective after every rung as
a `greenpipe-metric <metric>=<value>` line (the tuning job's MetricDefinitions read them; the intermediate ones
let SageMaker's Auto early stopping compare trials part-way) and writes bayes_tune's outputs for this one trial,
so the best training job's model.tar.gz holds `best_params`, `history` and `metrics` as bayes_tune would.
"""

from __future__ import annotations

from typing import Literal

from greenpipe import Artifact, Dataset, Metrics, Model, Output, Resources, step
from greenpipe.artifacts import write_json_atomic
from greenpipe.errors import GreenpipeError

TRIAL_ORIGIN = "sagemaker_trial"


@step(
    description="One bayes_tune configuration fitted and scored on the holdout (a SageMaker tuning job's trial)",
    resources=Resources(cpu=2, memory_gb=4),
    runtime="training",
)
def bayes_tune_trial(
    data: Dataset,
    best_params: Output[Artifact],
    history: Output[Dataset],
    metrics: Output[Metrics],
    model: Output[Model],
    target: str,
    choice: Artifact | None = None,
    estimator: str = "",
    search_space: dict | None = None,
    metric: str = "accuracy",
    pruner: Literal["hopeless", "median", "successive_halving", "hyperband", "none"] = "none",
    fidelity: Literal["auto", "iterations", "sample", "none"] = "auto",
    sample_fraction: float = 1.0,
    validation_share: float = 0.25,
    seed: int = 0,
    tuned_hyperparameters: dict | None = None,
) -> None:
    """Fit `estimator` with the tuned values in `tuned_hyperparameters` ({name: text}) and score the holdout.

    The other params mean what they mean for bayes_tune (same names, same defaults).
    """
    import pickle

    from greenpipe.components.bayes_tune.estimators import family
    from greenpipe.components.bayes_tune.objective import Holdout, TrialRunner, resolve_direction
    from greenpipe.components.bayes_tune.search_space import SearchSpace
    from greenpipe.components.bayes_tune.step import DEFAULT_ESTIMATOR, _check_names, _fidelity, _load, _read_choice
    from greenpipe.components.bayes_tune.trial_table import history_frame
    from greenpipe.components.bayes_tune.tuning import TrialRecord
    from greenpipe.components.contracts.model_folder import ModelDescription, write_model_folder
    from greenpipe.container import METRIC_LINE
    from greenpipe.ledger import UsageMeter, formula_kwh

    picked = _read_choice(choice)
    fam = family(estimator or str(picked.get("candidate") or DEFAULT_ESTIMATOR))
    space = SearchSpace.from_dict(search_space or fam.default_space)
    _check_names(fam, space)
    resolved_direction = resolve_direction(metric, "auto")
    params = space.from_sagemaker({str(k): str(v) for k, v in (tuned_hyperparameters or {}).items()})
    kind, min_fraction = _fidelity(fidelity, float(picked.get("fraction", sample_fraction)), fam, pruner)
    X, y = _load(data.path, target)
    runner = TrialRunner(fam, Holdout.split(X, y, validation_share, seed), metric, kind, min_fraction, seed)

    value, cost, rungs = float("nan"), 0.0, 0
    with UsageMeter() as meter:
        for _level, rung_cost, value in runner.run(params):
            cost, rungs = cost + rung_cost, rungs + 1
            print(f"{METRIC_LINE} {metric}={value!r}", flush=True)
    energy_kwh = formula_kwh(meter.cpu_s, meter.wall_s, meter.peak_mb / 1024)

    tuned = fam.trained_params(params, seed)  # exactly what the trial's last rung trained
    write_json_atomic(
        best_params.path,
        {
            "estimator": fam.name,
            "params": tuned,
            "metric": metric,
            "direction": resolved_direction,
            "value": value,
            "study": None,  # the tuning job is the study; this is one of its training jobs
            "warm_start": None,
            "target": target,
        },
    )
    record = TrialRecord(0, "COMPLETE", value, params, rungs, cost, meter.cpu_s, meter.wall_s, energy_kwh, TRIAL_ORIGIN)
    history_frame([record]).to_parquet(history.path, index=False)

    features = [str(c) for c in _feature_names(data.path, target)]
    described = ModelDescription(features=features, target=target, estimator=fam.name, params=tuned)
    write_model_folder(model.path, pickle.dumps(runner.fitted), described)
    metrics.log_metric(metric, value)
    metrics.log_metric("trial_equivalents", cost)
    metrics.log_metric("trial_energy_wh", energy_kwh * 1000)


def _feature_names(path: str, target: str) -> list[str]:
    import pyarrow.parquet as pq

    names = [n for n in pq.read_schema(path).names if n != target and not n.startswith("__index_level")]
    if not names:
        raise GreenpipeError(f"{path} has no feature columns beside target={target!r}")
    return names

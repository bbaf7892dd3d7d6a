"""The bayes_tune step: Bayesian hyperparameter search for one estimator on a Parquet training set."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal, NamedTuple

from greenpipe import Artifact, Dataset, Metrics, Output, Resources, step
from greenpipe.artifacts import write_json_atomic
from greenpipe.context import current
from greenpipe.errors import GreenpipeError
from greenpipe.ledger import register_credit_kind

register_credit_kind("pruning", "pruned trials")

DEFAULT_ESTIMATOR = "hist_gradient_boosting"
ITERATION_MIN_FRACTION = 1 / 9  # iteration rungs: 1/9, 1/3, 1 of the estimator's budget


class BayesTuneResult(NamedTuple):
    best_value: float
    trials: int
    pruned: int


@step(
    description="Bayesian hyperparameter search (Optuna) with pruning, warm start and small-sample fidelity",
    resources=Resources(cpu=2, memory_gb=4),
    runtime="tuning",
    tuning="greenpipe.components.bayes_tune.sagemaker_request:SAGEMAKER_TUNING",
)
def bayes_tune(
    data: Dataset,
    best_params: Output[Artifact],
    history: Output[Dataset],
    metrics: Output[Metrics],
    target: str,
    choice: Artifact | None = None,
    estimator: str = "",
    search_space: dict | None = None,
    metric: str = "accuracy",
    max_trials: int = 30,
    max_parallel: int = 1,
    pruner: Literal["hopeless", "median", "successive_halving", "hyperband", "none"] = "none",
    sampler: Literal["tpe", "gp", "random"] = "tpe",
    fidelity: Literal["auto", "iterations", "sample", "none"] = "auto",
    sample_fraction: float = 1.0,
    warm_start_from: str = "",
    warm_start_type: Literal["auto", "IdenticalDataAndAlgorithm", "TransferLearning"] = "auto",
    study_name: str = "",
    validation_share: float = 0.25,
    seed: int = 0,
) -> BayesTuneResult:
    """Tune an estimator's hyperparameters on `data`, one trial at a time by default.

    Args:
        data: Parquet table to tune on; the label in column `target`, every other column numeric.
        best_params: JSON {"estimator", "params", "metric", "direction", "value", "study", "warm_start",
            "target"}; "params" are the constructor arguments the best trial trained with (budget and seed
            included), so spot_train trains exactly that model.
        history: Parquet, one row per trial (state, value, param_*, rungs, cost, cpu_s, energy_kwh, origin).
        metrics: best_value, trials, pruned, trial_equivalents, warm_started_trials.
        target: the label column of `data`.
        choice: small_sample's JSON ({"candidate": ..., "fraction": ...}); gives the estimator when `estimator`
            is empty and the first data rung of sample fidelity.
        estimator: logistic, sgd, svc, random_forest, hist_gradient_boosting or mlp; empty takes choice's
            candidate, else hist_gradient_boosting.
        search_space: {name: {"type": "int"|"float", "low", "high", "scaling"} | {"values": [...]}}; empty uses
            the estimator's default space. Scaling is SageMaker's: Auto, Linear, Logarithmic, ReverseLogarithmic.
        metric: accuracy, balanced_accuracy, f1, roc_auc or log_loss, scored on the held-out rows; the
            direction (maximise or minimise) is the metric's own.
        max_trials: trials this study runs itself (a resumed study counts the ones it already ran).
        max_parallel: trials at a time; 1 (the guidance's advice) lets each trial learn from all before it.
        pruner: "none" (the default: every trial one fit at the full budget, which reached the bench's targets
            with the least CPU; see the README), "hopeless" (stops a trial only when 1.5 x the largest late gain
            seen cannot reach the best, so slow starters survive), "median", "successive_halving", "hyperband".
        sampler: "tpe" (Optuna's TPE, one joint density, for mixed and conditional spaces), "gp"
            (Optuna's Gaussian-process sampler, for small continuous spaces; needs torch) or "random". The first
            trials are the sampler's own random startup.
        fidelity: "iterations" (trees/rounds/epochs in rungs), "sample" (growing data samples from
            sample_fraction or choice's fraction), "none", or "auto" (one rung when pruner is "none", the
            default; else sample if a fraction < 1 is given, else iterations where growing the estimator equals
            one fit, as for boosting rounds and trees). Whatever
            the fidelity, a trial's last rung trains exactly best_params (all rows, the full budget, the seed).
        sample_fraction: the first data rung of fidelity "sample" (small_sample's fraction in `choice` wins).
        warm_start_from / warm_start_type: a study name from an earlier run's best_params JSON; the type
            "auto" picks IdenticalDataAndAlgorithm (copy its trials) when estimator, metric, fidelity and data
            match, else TransferLearning (its trials as priors; re-evaluate its best configuration first).
        study_name: where the study is kept in the store; empty derives it from the data and settings, so a rerun
            resumes the same study.
        validation_share: share of the rows held out (stratified, seeded) to score every trial on.
        seed: the split's, the sampler's and every trial's estimator's seed.
    """
    from greenpipe.components.bayes_tune.estimators import family
    from greenpipe.components.bayes_tune.objective import Holdout, TrialRunner, resolve_direction
    from greenpipe.components.bayes_tune.search_space import SearchSpace
    from greenpipe.components.bayes_tune.trial_table import history_frame, record_trials
    from greenpipe.components.bayes_tune.tuning import (
        TuneSettings,
        load_parent,
        open_study,
        progress_callback,
        run_trials,
        storage_at,
        warm_start,
    )
    from greenpipe.shared_state import shared_folder

    ctx = current()
    picked = _read_choice(choice)
    fam = family(estimator or str(picked.get("candidate") or DEFAULT_ESTIMATOR))
    space = SearchSpace.from_dict(search_space or fam.default_space)
    _check_names(fam, space)
    settings = TuneSettings(space, resolve_direction(metric, "auto"), max_trials, max_parallel, sampler, pruner, seed)
    fraction = float(picked.get("fraction", sample_fraction))
    kind, min_fraction = _fidelity(fidelity, fraction, fam, pruner)
    X, y = _load(data.path, target)
    runner = TrialRunner(fam, Holdout.split(X, y, validation_share, seed), metric, kind, min_fraction, seed)

    digest = data.digest or ctx.store().digest_of(data.path)
    attrs = {
        "estimator": fam.name,
        "metric": metric,
        "data_digest": digest,
        "fidelity": f"{kind}:{min_fraction:.6g}",
        "space": json.dumps(space.to_dict(), sort_keys=True),
        "target": target,
    }
    storage = storage_at(shared_folder(ctx.home, "bayes_tune", "bayes_tune's Optuna studies"))
    parent = load_parent(storage, warm_start_from) if warm_start_from else None
    name = study_name or _study_name(fam.name, digest, attrs, settings)
    study = open_study(storage, name, settings, attrs)
    seeded_type, seeded = warm_start(study, parent, space, warm_start_type, attrs) if parent else (None, 0)
    if parent:
        ctx.log(f"warm start from {parent.study_name} ({seeded_type}): {seeded} trials seeded")

    outcome = run_trials(study, runner, settings, log=ctx.log, callbacks=[progress_callback(ctx, settings, metric)])
    outcome.warm_start_type = seeded_type
    if outcome.avoided_kwh > 0:
        ctx.credit_avoided(
            "pruning",
            outcome.avoided_kwh,
            traced_to=outcome.avoided_trace,
            note=f"study {name}: rungs pruned trials did not run",
        )
    record_trials(ctx, name, outcome.records)

    tuned = fam.trained_params(outcome.best_params, seed)  # exactly what the trial's last rung trained
    write_json_atomic(
        best_params.path,
        {
            "estimator": fam.name,
            "params": tuned,
            "metric": metric,
            "direction": settings.direction,
            "value": outcome.best_value,
            "study": name,
            "warm_start": seeded_type,
            "target": target,
        },
    )
    history_frame(outcome.records).to_parquet(history.path, index=False)
    own = outcome.own()
    for key, value in (
        ("best_value", outcome.best_value),
        ("trials", len(own)),
        ("pruned", outcome.pruned),
        ("trial_equivalents", outcome.cost),  # energy spent and avoided is in the ledger, not in this artifact
        ("warm_started_trials", seeded),
    ):
        metrics.log_metric(key, value)
    return BayesTuneResult(outcome.best_value, len(own), outcome.pruned)


def _read_choice(choice: Artifact | None) -> dict[str, Any]:
    if choice is None:
        return {}
    try:
        with open(choice.path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as exc:
        raise GreenpipeError(
            f"choice={choice.path!r} is not small_sample's JSON choice ({exc}); pass its "
            "`choice` output or leave choice empty"
        ) from exc
    fraction = data.get("fraction", 1.0)
    if not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
        raise GreenpipeError(f"choice fraction={fraction!r} must be in (0, 1]")
    return dict(data)


def _check_names(fam: Any, space: Any) -> None:
    known = set(fam.make({}, 0).get_params())
    unknown = [n for n in space.names if n not in known]
    if unknown:
        raise GreenpipeError(
            f"search_space names {unknown} are not hyperparameters of {fam.name}: use some of "
            f"{', '.join(sorted(known))}"
        )
    if fam.budget_param in space.names:
        raise GreenpipeError(
            f"search_space tunes {fam.budget_param}, the budget bayes_tune grows in rungs for "
            f"{fam.name}; leave it out (pruning decides how much of it a trial gets)"
        )


def _fidelity(fidelity: str, fraction: float, fam: Any, pruner: str) -> tuple[str, float]:
    if not 0 < fraction <= 1:
        raise GreenpipeError(f"sample_fraction={fraction!r} must be in (0, 1]")
    if fidelity == "auto":
        if pruner == "none":
            return "none", 1.0
        if fraction < 1:
            return "sample", fraction
        return ("iterations", ITERATION_MIN_FRACTION) if fam.budget_resumable else ("none", 1.0)
    if fidelity == "sample":
        if fraction >= 1:
            raise GreenpipeError("fidelity='sample' needs sample_fraction < 1 (or small_sample's choice)")
        return "sample", fraction
    return fidelity, ITERATION_MIN_FRACTION if fidelity == "iterations" else 1.0


def _load(path: str, target: str) -> tuple[Any, Any]:
    import pandas as pd

    frame = pd.read_parquet(path)
    if target not in frame.columns:
        columns = ", ".join(map(str, frame.columns))
        raise GreenpipeError(f"target={target!r} is not a column of {path}; columns: {columns}")
    features = frame.drop(columns=[target])
    non_numeric = [str(c) for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    if non_numeric:
        raise GreenpipeError(
            f"columns {non_numeric} are not numeric; encode them before bayes_tune (e.g. with "
            "feature_dedup) or drop them"
        )
    if frame[target].nunique() < 2:
        raise GreenpipeError(f"target={target!r} has a single class; tuning needs at least two")
    return features.to_numpy(dtype="float64"), frame[target].to_numpy()


def _study_name(estimator: str, digest: str, attrs: dict[str, Any], settings: Any) -> str:
    key = json.dumps(
        {
            **attrs,
            "direction": settings.direction,
            "sampler": settings.sampler,
            "pruner": settings.pruner,
            "seed": settings.seed,
            "max_trials": settings.max_trials,
        },
        sort_keys=True,
    )
    return f"{estimator}-{digest.split(':')[-1][:12]}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"

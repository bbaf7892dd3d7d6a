"""bayes_tune: search-space checks, the step on real data through the runner, warm start, pruning credits, and the
SageMaker request against botocore's model."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest

from greenpipe import Artifact, Dataset, Metrics, pipeline
from greenpipe.components.bayes_tune import STEPS, bayes_tune
from greenpipe.components.bayes_tune.estimators import family
from greenpipe.components.bayes_tune.objective import Holdout, TrialRunner, rung_levels
from greenpipe.components.bayes_tune.sagemaker_request import RequestError, tuning_job_request, validate_request
from greenpipe.components.bayes_tune.search_space import SearchSpace, SearchSpaceError
from greenpipe.components.bayes_tune.trial_table import MEASURED
from greenpipe.components.bayes_tune.tuning import TuneSettings, open_study, run_trials, storage_at
from greenpipe.errors import GreenpipeError
from greenpipe.runner import Runner
from greenpipe.store import Store


@pytest.fixture()
def breast_cancer(tmp_path):
    from sklearn.datasets import load_breast_cancer

    path = tmp_path / "bc.parquet"
    load_breast_cancer(as_frame=True).frame.to_parquet(path)
    return path


@pipeline(name="tune_test")
def tune_pipeline(
    data: Dataset,
    trials: int = 8,
    warm: str = "",
    estimator: str = "svc",
    fraction: float = 0.2,
    pruner: str = "hopeless",
) -> None:
    bayes_tune(
        data=data,
        target="target",
        estimator=estimator,
        max_trials=trials,
        warm_start_from=warm,
        sample_fraction=fraction,
        pruner=pruner,
    )


def _run(store, data, **params):
    result = Runner(tune_pipeline, {"data": str(data), **params}, store=store).run()
    step = result.step("bayes_tune")
    assert step.status == "ran", step.error
    return step


def _outputs(store, step):
    best = json.loads(store.object_path(step.outputs["best_params"]).read_text())
    history = pd.read_parquet(store.object_path(step.outputs["history"]))
    return best, history


# -- search space ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ({"type": "float", "low": 1.0, "high": 0.1}, "inverted"),
        ({"type": "int", "low": 3, "high": 3}, "empty"),
        ({"type": "float", "low": 0.0, "high": 1.0, "scaling": "Logarithmic"}, "includes 0"),
        ({"type": "float", "low": -1.0, "high": 1.0, "scaling": "Logarithmic"}, "includes 0"),
        ({"type": "float", "low": 0.1, "high": 1.0, "scaling": "logarithmic"}, "spelled exactly"),
        ({"type": "float", "low": 0.5, "high": 1.5, "scaling": "ReverseLogarithmic"}, "high < 1"),
        ({"type": "int", "low": 1, "high": 9, "scaling": "ReverseLogarithmic"}, "continuous ranges only"),
        ({"values": []}, "empty"),
        ({"type": "float", "low": 0.1}, "`high` is missing"),
    ],
)
def test_bad_ranges_are_refused_with_the_field_named(entry, words):
    with pytest.raises(SearchSpaceError, match=words) as info:
        SearchSpace.from_dict({"C": entry})
    assert "search_space['C']" in str(info.value)


def test_reverse_log_values_stay_in_range_and_crowd_near_the_top():
    import optuna

    space = SearchSpace.from_dict(
        {"momentum": {"type": "float", "low": 0.5, "high": 0.999, "scaling": "ReverseLogarithmic"}}
    )
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    values = [space.suggest(study.ask())["momentum"] for _ in range(400)]
    assert all(0.5 <= v <= 0.999 for v in values)
    assert sum(v > 0.9 for v in values) > sum(v < 0.75 for v in values)  # linear would give 0.2 vs 0.5 shares


def test_auto_scaling_goes_log_only_over_wide_positive_ranges():
    space = SearchSpace.from_dict(
        {"a": {"type": "float", "low": 1e-4, "high": 1.0}, "b": {"type": "float", "low": 0.0, "high": 1.0}}
    )
    assert [p.log for p in space.parameters] == [True, False]


def test_rungs_start_at_the_small_sample_fraction_and_end_at_the_full_data():
    assert rung_levels("sample", 0.1) == pytest.approx([0.1, 0.3, 1.0])
    assert rung_levels("sample", 0.25) == [0.25, 1.0]
    assert rung_levels("none", 0.1) == [1.0]


# -- the step -------------------------------------------------------------------------------------------------


def test_step_tunes_prunes_and_records_each_trials_energy(tmp_path, breast_cancer):
    store = Store(tmp_path / "store")
    step = _run(store, breast_cancer, trials=7, estimator="random_forest", fraction=1.0, pruner="median")
    best, history = _outputs(store, step)
    assert best["estimator"] == "random_forest" and best["metric"] == "accuracy"
    assert set(best["params"]) >= {"max_depth", "min_samples_leaf", "max_features", "n_estimators"}
    assert best["value"] == pytest.approx(step.values["best_value"]) and best["value"] > 0.9
    assert step.values["trials"] == 7 == len(history)
    assert not {"energy_kwh", "cpu_s", "wall_s"} & set(history.columns)  # results only: measurements in the store
    pruned = history[history["state"] == "PRUNED"]
    assert step.values["pruned"] == len(pruned) > 0
    assert (pruned["trial_equivalents"] < 1).all()  # a pruned trial paid for part of its budget only
    credits = store.query("SELECT kind, energy_kwh, traced_to FROM credits WHERE exec_id=?", (step.exec_id,))
    assert [c["kind"] for c in credits] == ["pruning"] and credits[0]["energy_kwh"] > 0
    assert "measured" in credits[0]["traced_to"]
    rows = store.query("SELECT number, energy_kwh, cpu_s FROM bayes_tune_trials ORDER BY number")
    assert [r["number"] for r in rows] == sorted(history["number"]) and len(rows) == 7
    assert all(r["energy_kwh"] > 0 and r["cpu_s"] > 0 for r in rows)
    # a spot_train-style consumer can build the estimator straight from best_params
    fam = family(best["estimator"])
    fam.make({k: v for k, v in best["params"].items() if k != "n_estimators"}, 0, budget=10)


def test_warm_start_on_identical_data_reuses_the_parent_trials(tmp_path, breast_cancer):
    store = Store(tmp_path / "store")
    first, _ = _outputs(store, _run(store, breast_cancer, trials=8))
    step = _run(store, breast_cancer, trials=3, warm=first["study"])
    best, history = _outputs(store, step)
    assert best["warm_start"] == "IdenticalDataAndAlgorithm"
    assert (history["origin"] == "warm_start").sum() == 8 and step.values["trials"] == 3
    parent = store.query("SELECT value FROM bayes_tune_trials WHERE study=?", (first["study"],))
    kept = history.loc[history["origin"] == "warm_start", "value"].dropna()
    assert len(kept) > 0 and set(kept) <= {r["value"] for r in parent}  # the parent's own measured trials
    assert best["value"] >= first["value"]  # the parent's best is part of the study


def test_warm_start_on_changed_data_transfers_the_best_configurations(tmp_path, breast_cancer):
    store = Store(tmp_path / "store")
    first, _ = _outputs(store, _run(store, breast_cancer, trials=6))
    grown = tmp_path / "bigger.parquet"
    frame = pd.read_parquet(breast_cancer)
    pd.concat([frame, frame.iloc[:100]]).to_parquet(grown)
    step = _run(store, grown, trials=4, warm=first["study"])
    best, history = _outputs(store, step)
    assert best["warm_start"] == "TransferLearning"
    assert (history["origin"] == "enqueued").sum() == 1 and "warm_start" not in set(history["origin"])
    priors = history[history["origin"] == "transfer_prior"]
    assert len(priors) > 0 and step.values["trials"] == 4  # priors inform the sampler, they are not trials here
    own = history[~history["origin"].isin(["transfer_prior"]) & (history["state"] == "COMPLETE")]
    assert best["value"] == own["value"].max()  # the best is scored on the new data


def test_small_sample_choice_sets_estimator_and_first_rung(tmp_path, breast_cancer):
    choice = tmp_path / "choice.json"
    choice.write_text(json.dumps({"candidate": "svc", "fraction": 0.2}))
    best_path, hist_path, met_path = tmp_path / "best.json", tmp_path / "hist.parquet", tmp_path / "m.json"
    os.environ["GREENPIPE_HOME"] = str(tmp_path / "home")
    try:
        out = bayes_tune(
            Dataset(breast_cancer),
            Artifact(best_path),
            Dataset(hist_path),
            Metrics(met_path),
            choice=Artifact(choice),
            target="target",
            max_trials=8,
            pruner="median",
        )
    finally:
        del os.environ["GREENPIPE_HOME"]
    best = json.loads(best_path.read_text())
    history = pd.read_parquet(hist_path)
    assert best["estimator"] == "svc" and set(best["params"]) == {"C", "gamma", "random_state"}
    assert out.trials == 8 and Metrics(met_path).values()["trials"] == 8
    assert history["trial_equivalents"].min() == pytest.approx(0.2)  # a trial pruned on the 20% sample


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"metric": "precision_at_k"}, "metric='precision_at_k'"),
        (
            {
                "search_space": {"C": {"type": "float", "low": 0.0, "high": 10.0, "scaling": "Logarithmic"}},
                "estimator": "logistic",
            },
            "includes 0",
        ),
        ({"search_space": {"depth": {"type": "int", "low": 1, "high": 5}}}, "not hyperparameters"),
        ({"estimator": "xgboost"}, "estimator='xgboost'"),
        ({"target": "label"}, "target='label'"),
        ({"warm_start_from": "no-such-study"}, "no-such-study"),
    ],
)
def test_bad_input_fails_before_any_trial(tmp_path, breast_cancer, params, words, monkeypatch):
    monkeypatch.setenv("GREENPIPE_HOME", str(tmp_path / "home"))
    params = {"target": "target", **params}
    with pytest.raises(GreenpipeError, match=words):
        bayes_tune(
            Dataset(breast_cancer),
            Artifact(tmp_path / "b.json"),
            Dataset(tmp_path / "h.parquet"),
            Metrics(tmp_path / "m.json"),
            **params,
        )
    assert not (tmp_path / "b.json").exists()
    folder = tmp_path / "home" / "bayes_tune"
    if folder.exists():  # a study may have been opened, but no trial ran
        import optuna

        storage = storage_at(folder)
        assert all(
            not optuna.load_study(study_name=n, storage=storage).trials for n in optuna.get_all_study_names(storage)
        )


def test_study_resumes_after_an_interrupted_job(tmp_path):
    """The study lives in the store: a job stopped after 4 of 6 trials runs only the 2 left when rerun."""
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    runner = TrialRunner(family("svc"), Holdout.split(X, y), "accuracy", "none")
    space = SearchSpace.from_dict(family("svc").default_space)
    storage = storage_at(tmp_path / "bt")

    def stop_after_four(study, trial):
        if trial.number == 3:
            study.stop()

    settings = TuneSettings(space, "maximize", max_trials=6)
    run_trials(open_study(storage, "s", settings, {"estimator": "svc"}), runner, settings, callbacks=[stop_after_four])
    again = run_trials(open_study(storage_at(tmp_path / "bt"), "s", settings, {"estimator": "svc"}), runner, settings)
    assert len(again.own()) == 6


def test_a_study_killed_mid_trial_resumes_into_the_trials_an_unbroken_one_runs(tmp_path):
    """A process killed inside a trial leaves it RUNNING in the journal: the rerun abandons it, numbers nothing
    after it differently, and draws each next trial from (seed, trials finished), so the records (the history
    artifact's rows) equal those of a study that was never interrupted."""
    from dataclasses import asdict

    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    runner = TrialRunner(family("svc"), Holdout.split(X, y), "accuracy", "none")
    settings = TuneSettings(SearchSpace.from_dict(family("svc").default_space), "maximize", max_trials=8)

    def records(outcome):
        return [{k: v for k, v in asdict(r).items() if k not in MEASURED} for r in outcome.records]

    unbroken = run_trials(open_study(storage_at(tmp_path / "a"), "s", settings, {}), runner, settings)

    def stop_after_five(study, trial):
        if trial.number == 4:
            study.stop()

    run_trials(open_study(storage_at(tmp_path / "b"), "s", settings, {}), runner, settings, callbacks=[stop_after_five])
    open_study(storage_at(tmp_path / "b"), "s", settings, {}).ask()  # the sixth starts and its process dies
    resumed = run_trials(open_study(storage_at(tmp_path / "b"), "s", settings, {}), runner, settings)
    assert len(resumed.records) == 8
    assert records(resumed) == records(unbroken)


def test_step_is_listed_with_its_tuning_runtime():
    assert STEPS == [bayes_tune]
    spec = bayes_tune.spec
    assert spec.runtime == "tuning"
    assert [o.name for o in spec.outputs] == ["best_params", "history", "metrics"]
    assert [v.name for v in spec.values] == ["best_value", "trials", "pruned"]


# -- SageMaker ------------------------------------------------------------------------------------------------


def _request(**overrides):
    space = SearchSpace.from_dict(
        {
            "learning_rate": {"type": "float", "low": 0.01, "high": 0.5, "scaling": "Logarithmic"},
            "max_leaf_nodes": {"type": "int", "low": 4, "high": 128, "scaling": "Logarithmic"},
            "momentum": {"type": "float", "low": 0.5, "high": 0.99, "scaling": "ReverseLogarithmic"},
            "loss": {"values": ["log_loss", "exponential"]},
        }
    )
    args = dict(
        job_prefix="rain-tune",
        space=space,
        metric="accuracy",
        direction="maximize",
        max_trials=20,
        image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/greenpipe:0.1.0",
        role_arn="arn:aws:iam::123456789012:role/greenpipe",
        train_s3_uri="s3://bucket/data/train",
        output_s3_uri="s3://bucket/tuning",
        warm_start_from=["rain-tune-0a1b2c3d"],
        static_hyperparameters={"estimator": "hist_gradient_boosting", "target": "rain"},
    )
    args.update(overrides)
    return tuning_job_request(**args)


def test_sagemaker_request_is_bayesian_one_at_a_time_and_valid():
    request = _request()
    validate_request(request)
    config = request["HyperParameterTuningJobConfig"]
    assert config["Strategy"] == "Bayesian" and config["TrainingJobEarlyStoppingType"] == "Auto"
    assert config["ResourceLimits"]["MaxParallelTrainingJobs"] == 1
    ranges = config["ParameterRanges"]
    assert [r["ScalingType"] for r in ranges["ContinuousParameterRanges"]] == ["Logarithmic", "ReverseLogarithmic"]
    assert ranges["CategoricalParameterRanges"][0]["Values"] == ["log_loss", "exponential"]
    assert request["WarmStartConfig"]["WarmStartType"] == "IdenticalDataAndAlgorithm"
    assert request == _request()  # deterministic: same name, same bytes
    assert request["HyperParameterTuningJobName"] != _request(max_trials=21)["HyperParameterTuningJobName"]


def test_validation_catches_the_enums_botocore_lets_through():
    import botocore.session
    from botocore.validate import ParamValidator

    request = _request()
    request["HyperParameterTuningJobConfig"]["Strategy"] = "bayesian"
    shape = (
        botocore.session.get_session()
        .get_service_model("sagemaker")
        .operation_model("CreateHyperParameterTuningJob")
        .input_shape
    )
    assert not ParamValidator().validate(request, shape).has_errors()  # botocore alone accepts it
    with pytest.raises(RequestError, match="'bayesian' is not one of Bayesian"):
        validate_request(request)
    bad_warm = _request(warm_start_type="transfer")
    with pytest.raises(RequestError, match="WarmStartType='transfer'"):
        validate_request(bad_warm)
    wrong_type = _request()
    wrong_type["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxParallelTrainingJobs"] = "1"
    with pytest.raises(RequestError, match="MaxParallelTrainingJobs"):
        validate_request(wrong_type)


def test_a_tuning_jobs_training_container_evaluates_one_configuration(tmp_path, breast_cancer):
    """Compile bayes_tune, then run one of its training jobs as the image's `train` script would, on a temporary
    /opt/ml root: SageMaker's hyperparameters.json holds the static params plus one point of the ranges."""
    import re
    import subprocess
    import sys
    from pathlib import Path

    from greenpipe.backends.sagemaker import compile_definition
    from greenpipe.components.bayes_tune.step import _load
    from greenpipe.components.bayes_tune.trial import bayes_tune_trial

    @pipeline(name="tune_sm")
    def tune_sm(data: Dataset) -> None:
        # rungs and a pruner (not the default one rung): the trial then prints what Auto early stopping compares
        bayes_tune(data=data, target="target", estimator="hist_gradient_boosting", max_trials=4, pruner="hopeless")

    definition = json.loads(compile_definition(tune_sm, role_arn="arn:aws:iam::123456789012:role/r", bucket="b"))
    args = definition["Steps"][0]["Arguments"]
    job = args["TrainingJobDefinition"]
    ranges = args["HyperParameterTuningJobConfig"]["ParameterRanges"]
    point = {"learning_rate": "0.1", "l2_regularization": "0.001", "max_leaf_nodes": "15", "min_samples_leaf": "20"}
    for kind in ("IntegerParameterRanges", "ContinuousParameterRanges"):
        for r in ranges[kind]:
            assert float(r["MinValue"]) <= float(point[r["Name"]]) <= float(r["MaxValue"])

    root = tmp_path / "job"
    (channel_name,) = [c["ChannelName"] for c in job["InputDataConfig"]]  # the step's input name, as compiled
    channel = root / "opt/ml/input/data" / channel_name
    channel.mkdir(parents=True)
    (channel / "bc.parquet").write_bytes(breast_cancer.read_bytes())
    config = root / "opt/ml/input/config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps({**job["StaticHyperParameters"], **point}))
    # the image's `train` script, taken from the Dockerfile, with this interpreter for `python`
    dockerfile = (Path(__file__).resolve().parents[2] / "Dockerfile").read_text()
    script = re.search(r"printf '(#!/bin/sh\\n.*?)'", dockerfile)[1].replace("\\n", "\n")
    train_script = tmp_path / "train"
    train_script.write_text(script.replace("exec python ", f"exec {sys.executable} "))
    env = {
        **os.environ,
        **job["Environment"],
        "GREENPIPE_SM_ROOT": str(root),
        "GREENPIPE_HOME": str(tmp_path / "home"),
    }
    proc = subprocess.run(["sh", str(train_script)], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr

    regex = job["AlgorithmSpecification"]["MetricDefinitions"][0]["Regex"]
    values = [float(v) for v in re.findall(regex, proc.stdout)]
    model_dir = root / "opt/ml/model"
    logged = json.loads((model_dir / "metrics").read_text())
    assert len(values) >= 2  # one per rung (what Auto early stopping compares), then the final one
    assert values[-1] == logged["accuracy"]

    # the same configuration scored in-process on bayes_tune's own holdout gives the same objective
    params = {"learning_rate": 0.1, "l2_regularization": 0.001, "max_leaf_nodes": 15, "min_samples_leaf": 20}
    X, y = _load(str(breast_cancer), "target")
    runner = TrialRunner(family("hist_gradient_boosting"), Holdout.split(X, y, 0.25, 0), "accuracy", "iterations")
    assert [v for _, _, v in runner.run(params)] == values[:-1]

    best = json.loads((model_dir / "best_params").read_text())
    assert best["estimator"] == "hist_gradient_boosting" and best["value"] == values[-1]
    assert {k: best["params"][k] for k in params} == params and best["params"]["max_iter"] == 200
    assert {o.name for o in bayes_tune.spec.outputs} <= {p.name for p in model_dir.iterdir()}
    assert (model_dir / "model" / "model.pkl").is_file()
    assert json.loads((model_dir / "model" / "model.json").read_text())["target"] == "target"
    assert len(pd.read_parquet(model_dir / "history")) == 1
    ledger = json.loads((root / "opt/ml/output/data/ledger.json").read_text())
    assert (
        ledger["step"] == bayes_tune_trial.spec.ref
        and ledger["fingerprint"] == job["Environment"]["GREENPIPE_FINGERPRINT"]
    )


def test_trial_refuses_hyperparameters_outside_its_search_space(tmp_path, breast_cancer):
    from greenpipe import Model
    from greenpipe.components.bayes_tune.trial import bayes_tune_trial

    outputs = {
        "best_params": Artifact(str(tmp_path / "best")),
        "history": Dataset(str(tmp_path / "history")),
        "metrics": Metrics(str(tmp_path / "metrics")),
        "model": Model(str(tmp_path / "model")),
    }
    with pytest.raises(SearchSpaceError, match=r"unknown \['depth'\]"):
        bayes_tune_trial(
            data=Dataset(str(breast_cancer)),
            target="target",
            estimator="logistic",
            tuned_hyperparameters={"C": "0.5", "depth": "3"},
            **outputs,
        )
    with pytest.raises(SearchSpaceError, match="C='big' is not a value"):
        bayes_tune_trial(
            data=Dataset(str(breast_cancer)),
            target="target",
            estimator="logistic",
            tuned_hyperparameters={"C": "big"},
            **outputs,
        )


def test_a_study_written_when_each_measurement_was_its_own_attr_still_reads_and_resumes(tmp_path):
    # studies kept before December 2026 stored cost, cpu_s, wall_s, energy_kwh and rung_kwh as five user attrs; a
    # resumed (or warm-started) study must still report their measurements
    from optuna.trial import TrialState, create_trial

    space = SearchSpace.from_dict({"lr": {"type": "float", "low": 1e-4, "high": 1.0, "scaling": "Logarithmic"}})
    settings = TuneSettings(space, "maximize", max_trials=2, seed=0)
    study = open_study(storage_at(tmp_path), "old", settings, {})
    old = {"cost": 1.0, "cpu_s": 0.25, "wall_s": 0.5, "energy_kwh": 2e-6, "rung_kwh": [2e-6], "origin": "tuned"}
    study.add_trial(
        create_trial(
            state=TrialState.COMPLETE,
            value=0.5,
            params=space.encode({"lr": 0.01}),
            distributions=space.distributions(),
            user_attrs=old,
        )
    )

    class Quick:
        levels = [1.0]

        def costs(self) -> list[float]:
            return [1.0]

        def run(self, params):
            yield 1.0, 1.0, -abs(params["lr"] - 0.1)

    outcome = run_trials(study, Quick(), settings)
    first, second = outcome.records
    assert (first.cpu_s, first.wall_s, first.energy_kwh, first.rung_kwh) == (0.25, 0.5, 2e-6, [2e-6])
    assert second.origin == "tuned" and second.cost == 1.0 and second.cpu_s >= 0 and len(second.rung_kwh) == 1

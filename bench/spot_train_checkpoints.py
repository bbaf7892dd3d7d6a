"""spot_train checkpoint figures: the overhead of checkpointing every epoch, and the work lost per reclaim.

Used by bench/spot_train.py; the training function `logged_progress` is in bench/spot_train_jobs.py.
"""

from __future__ import annotations

import os
import random
import signal
import statistics
import tempfile
import threading
import time
from pathlib import Path

CHECKPOINT_EVERY = 4  # lost work is measured in these intervals


# -- checkpoint overhead -------------------------------------------------------------------------------------


def checkpoint_overhead(data: dict, repeats: int = 5) -> tuple[float, float, float]:
    """Median relative slowdown of the same training (MLP on all 13.6k rainfall rows, ~0.1 s/epoch, the step's
    default rules on both sides) with a checkpoint due every epoch (the default; the overhead budget may
    postpone some), interleaved runs. Also the median shares of time spent inside saves and copying the best
    state so far (which happens with rules on, checkpoints or not)."""
    from greenpipe.components.spot_train.job import execute_job, job_spec

    train, val, target = data["rainfall_all"]
    ratios, direct, snapshots = [], [], []
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
                estimator_params={"hidden_layer_sizes": [128]},
                rules=None,
                seed=i,
                checkpoint_every=1,
            )
            t0 = time.perf_counter()
            outcome = execute_job(job)[0]
            times[mode] = time.perf_counter() - t0
            if mode == "with":
                direct.append(outcome.checkpoint_s / times[mode])
                snapshots.append(outcome.snapshot_s / times[mode])
        ratios.append((times["with"] - times["without"]) / times["without"])
    return statistics.median(ratios), statistics.median(direct), statistics.median(snapshots)


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
        "spot_train_jobs:logged_progress",
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

    run_supervised(job, work / "run", max_restarts=reclaims, on_start=on_start)
    runs = _attempts(progress)
    lost = []
    for i, (pid, steps, saved) in enumerate(runs[:-1]):
        resumed_from = runs[i + 1][1][0][0] - 1  # the next attempt's first step minus one
        last_step, last_time = steps[-1]
        step_s = statistics.median(b[1] - a[1] for a, b in zip(steps, steps[1:], strict=False)) if len(steps) > 1 else 0
        lost_steps: float = last_step - resumed_from
        if sig == signal.SIGKILL and step_s:  # the step in progress at the kill is lost too
            lost_steps += min(1.0, max(0.0, kills.get(pid, last_time) - last_time) / step_s)
        gaps = [b - a for a, b in zip(saved, saved[1:], strict=False)]  # the interval used (the budget may stretch it)
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

"""Managed spot, locally: run a job in a subprocess and restart it from its checkpoint when it is reclaimed.

The worker (`python -m greenpipe.components.spot_train.supervisor JOB.json`) exits 0 when done,
EXIT_INTERRUPTED after checkpointing on SIGTERM, 1 when the training raised. A worker killed by a signal before
it could checkpoint (SIGTERM during start-up, SIGKILL) counts as reclaimed too and resumes from the newest
valid checkpoint.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from greenpipe.components.spot_train.harness import EXIT_INTERRUPTED
from greenpipe.components.spot_train.job import thread_environment
from greenpipe.errors import GreenpipeError

RECLAIMED = {EXIT_INTERRUPTED, -signal.SIGTERM, -signal.SIGKILL}


class TrainingFailed(GreenpipeError):
    """The training function raised, or the job was reclaimed more often than max_restarts allows."""


def run_supervised(
    job: dict[str, Any],
    workdir: str | os.PathLike[str],
    max_restarts: int = 3,
    on_start: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Run `job` in a worker process until it finishes; restart it on reclaim, at most `max_restarts` times.

    Returns the worker's result: {"outcome": {...}, "task": str, "restarts": int}; the model is pickled at
    workdir/model.pkl. `on_start(attempt, pid)` is called as each worker starts (tests use it to send signals).
    """
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    job_path, result_path, log_path = work / "job.json", work / "result.json", work / "worker.log"
    job_path.write_text(json.dumps({**job, "result_path": str(result_path), "model_path": str(work / "model.pkl")}))
    result_path.unlink(missing_ok=True)
    restarts = 0
    while True:
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "greenpipe.components.spot_train.supervisor", str(job_path)],
                stdout=log,
                stderr=log,
                env={**os.environ, **thread_environment(job.get("threads", 1))},
            )
            if on_start is not None:
                on_start(restarts, proc.pid)
            code = proc.wait()
        if code == 0:
            result = json.loads(result_path.read_text())
            result["restarts"] = restarts
            return result
        if code not in RECLAIMED:
            tail = log_path.read_text(errors="replace")[-3000:]
            raise TrainingFailed(
                f"spot_train: the training raised (worker exit {code}); checkpoints are kept in "
                f"{job.get('checkpoint_dir')} and a rerun resumes from them.\n{tail}"
            )
        restarts += 1
        if restarts > max_restarts:
            raise TrainingFailed(
                f"spot_train: reclaimed {restarts} times, more than max_restarts={max_restarts}; "
                f"checkpoints are kept in {job.get('checkpoint_dir')}: raise max_restarts or rerun"
            )


def worker(job_path: str) -> int:
    from greenpipe.components.spot_train.harness import install_sigterm_handler

    install_sigterm_handler()  # first, so a reclaim during the imports below still ends in a checkpoint
    import pickle

    from greenpipe.artifacts import write_bytes_atomic, write_json_atomic
    from greenpipe.components.spot_train.job import execute_job

    job = json.loads(Path(job_path).read_text())
    outcome, model, task = execute_job(job)
    if outcome.status == "interrupted":
        return EXIT_INTERRUPTED
    write_bytes_atomic(job["model_path"], pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
    write_json_atomic(job["result_path"], {"outcome": outcome.summary(), "task": task})
    return 0


if __name__ == "__main__":
    sys.exit(worker(sys.argv[1]))

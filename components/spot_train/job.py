"""One training job, described by a JSON-able dict, run in this process (the worker and the step both use it)."""

from __future__ import annotations

import importlib
import sys
from typing import Any

from greenpipe.components.spot_train.checkpoints import CheckpointStore
from greenpipe.components.spot_train.harness import Outcome, TrainContext
from greenpipe.components.spot_train.rules import parse_rules
from greenpipe.errors import GreenpipeError


def job_spec(
    train_path: str,
    target: str,
    estimator: str,
    max_epochs: int,
    checkpoint_dir: str | None,
    val_path: str | None = None,
    estimator_params: dict | None = None,
    warm_start_path: str | None = None,
    checkpoint_every: int = 1,
    checkpoint_every_s: float = 0.0,
    rules: Any = None,
    seed: int = 0,
    sample_s: float = 0.5,
    max_overhead: float = 0.05,
    threads: int = 1,
) -> dict[str, Any]:
    """A job as plain data, so a subprocess (or a container) can run it from a JSON file."""
    return {
        "train_path": str(train_path),
        "val_path": None if val_path is None else str(val_path),
        "target": target,
        "estimator": estimator,
        "estimator_params": dict(estimator_params or {}),
        "warm_start_path": warm_start_path,
        "max_epochs": int(max_epochs),
        "checkpoint_dir": None if checkpoint_dir is None else str(checkpoint_dir),
        "checkpoint_every": int(checkpoint_every),
        "checkpoint_every_s": float(checkpoint_every_s),
        "rules": rules,
        "seed": int(seed),
        "sample_s": float(sample_s),
        "max_overhead": float(max_overhead),
        "threads": int(threads),
    }


def check_params(
    max_epochs: int = 50,
    threads: int = 1,
    checkpoint_every: int = 1,
    checkpoint_every_s: float = 0.0,
    rules: list | dict | None = None,
) -> None:
    """The params spot_train can check before a run starts (greenpipe calls it then; validate_job again)."""
    parse_rules(rules)
    if max_epochs < 1:
        raise GreenpipeError(f"spot_train: max_epochs={max_epochs!r} must be >= 1")
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise GreenpipeError(f"spot_train: threads={threads!r} must be an integer >= 1")
    if checkpoint_every < 0 or checkpoint_every_s < 0:
        raise GreenpipeError("spot_train: checkpoint_every and checkpoint_every_s must be >= 0 (0 turns them off)")


def validate_job(job: dict[str, Any]) -> None:
    """Everything a user can get wrong, checked before any training starts."""
    check_params(
        job["max_epochs"], job.get("threads", 1), job["checkpoint_every"], job["checkpoint_every_s"], job["rules"]
    )
    if ":" not in job["estimator"]:
        from greenpipe.components.spot_train.estimators import make_trainer

        make_trainer(job["estimator"], job["estimator_params"], job["seed"])
    else:
        _custom(job["estimator"])


def _custom(ref: str) -> Any:
    module, _, name = ref.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise GreenpipeError(
            f"spot_train: estimator={ref!r} cannot be imported ({exc}); give "
            "'package.module:function' of a function train(ctx, data, params)"
        ) from exc


def execute_job(job: dict[str, Any]) -> tuple[Outcome, Any, str]:
    """Run the job to completion, a stop, or an interruption. Returns (outcome, fitted model or None, task)."""
    from greenpipe.components.contracts.model_folder import load_model
    from greenpipe.components.spot_train.estimators import fit_loop, make_trainer
    from greenpipe.components.spot_train.train_data import load_data

    data = load_data(job["train_path"], job["val_path"], job["target"])
    warm = None
    if job["warm_start_path"]:
        warm = load_model(job["warm_start_path"])  # an input the runner verified against its digest
    store = CheckpointStore(job["checkpoint_dir"]) if job["checkpoint_dir"] else None
    ctx = TrainContext(
        job["max_epochs"],
        parse_rules(job["rules"]),
        store,
        job["checkpoint_every"],
        job["checkpoint_every_s"],
        job["seed"],
        job["sample_s"],
        job.get("max_overhead", 0.05),
    )
    from threadpoolctl import threadpool_limits

    threads = int(job.get("threads", 1))
    with threadpool_limits(limits=threads):
        if ":" in job["estimator"]:
            fn, params = _custom(job["estimator"]), job["estimator_params"]
            _pin_torch_threads(threads)
            outcome = ctx.run(lambda c: fn(c, data, params))
            return outcome, outcome.state, "custom"
        trainer = make_trainer(job["estimator"], job["estimator_params"], job["seed"])
        _pin_torch_threads(threads)
        outcome = ctx.run(fit_loop(trainer, data, warm))
    model = None if outcome.state is None else trainer.to_model(outcome.state)
    return outcome, model, trainer.task


def thread_environment(threads: int) -> dict[str, str]:
    """Environment for a worker process: every thread pool sized before the libraries start theirs."""
    count = str(int(threads))
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")
    return {name: count for name in names}


def _pin_torch_threads(threads: int) -> None:
    """torch keeps its own pool (threadpoolctl does not reach it); only touched if torch is already in use."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)

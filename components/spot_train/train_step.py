"""The spot_train step: train with checkpoints, survive spot reclaims, stop bad jobs early."""

import hashlib
import json
import os
import pickle
import shutil
from pathlib import Path
from typing import NamedTuple

from greenpipe import Artifact, CodeRef, Dataset, Metrics, Model, Output, Resources, step
from greenpipe.components.contracts.estimators import class_name_of
from greenpipe.components.contracts.estimators import estimator as estimator_row
from greenpipe.components.contracts.model_folder import ModelDescription, read_description, write_model_folder
from greenpipe.components.spot_train.job import check_params
from greenpipe.context import current
from greenpipe.errors import GreenpipeError
from greenpipe.ledger import register_credit_kind

register_credit_kind("early_stop", "early stops")


class SpotTrainResult(NamedTuple):
    stopped_early: bool
    rule: str
    epochs: int


@step(
    description="Train with atomic checkpoints and restarts on spot reclaim; stop-rules end bad jobs early",
    resources=Resources(cpu=2, memory_gb=4, spot=True),
    runtime="training",
    check=check_params,
)
def spot_train(
    data: Dataset,
    model: Output[Model],
    metrics: Output[Metrics],
    target: str,
    validation: Dataset | None = None,
    hyperparameters: Artifact | None = None,
    warm_start: Model | None = None,
    estimator: CodeRef = "SGDClassifier",
    estimator_params: dict | None = None,
    max_epochs: int = 50,
    checkpoint_every: int = 1,
    checkpoint_every_s: float = 0.0,
    checkpoint_max_overhead: float = 0.05,
    rules: list | dict | None = None,
    seed: int = 0,
    threads: int = 1,
    max_restarts: int = 3,
    isolate: bool = True,
) -> SpotTrainResult:
    """Train `estimator` for up to `max_epochs`, checkpointing and evaluating stop-rules after each epoch.

    Args:
        data: Parquet training table: the label in `target`, the features in the other numeric columns.
        model: written: a model folder, model.pkl (the kept epoch's model) and model.json (estimator, features,
            target, params, seed, epochs, kept epoch, why it stopped).
        metrics: written: loss, val_loss, score and val_score of the kept epoch, epochs, stopped_early.
        target: the label column.
        validation: held-out rows scored after every epoch (the stop-rules and the kept epoch use them); None
            holds out none.
        estimator: a built-in estimator name (SGDClassifier, MLPClassifier, HistGradientBoostingClassifier, the
            Regressor twins, TorchMLPClassifier/Regressor), "auto", or "mypkg.train:fit" for your own loop.
        estimator_params: the estimator's constructor params.
        max_epochs: the epoch budget; stop-rules may end the job sooner.
        checkpoint_every: a checkpoint is due every this many epochs...
        checkpoint_every_s: ...or every this many seconds (0 turns the clock off).
        seed: seeds the estimator and each epoch's shuffling, so equal inputs give the same model bytes.
        max_restarts: how many reclaims (SIGTERM) the worker is restarted after, each resuming from a checkpoint.
        hyperparameters: JSON from bayes_tune (a flat dict, or one under "params"/"best_params"); overrides
            `estimator_params`. With estimator="auto" the estimator is the one bayes_tune tuned, or else the
            warm_start model's own.
        warm_start: a model folder (see contracts/model_folder.py) of the same estimator to continue from.
        rules: stop-rules by Debugger name, e.g. ["ExplodingTensor", {"name": "Overtraining", "delta": 0.001}]
            or {"LossNotDecreasing": {"num_steps": 5}}; None uses ExplodingTensor, VanishingGradient,
            LossNotDecreasing, Overtraining with Debugger's default parameters; [] turns them off.
        threads: the BLAS/OpenMP/torch threads the training uses, whatever the machine has: summation order
            depends on the thread count, so a fixed count keeps the model's bytes the same on any machine.
        checkpoint_max_overhead: a due checkpoint waits while saving would take more than this share of the
            time since the last one (0 saves every time it is due).
        isolate: run the training in a worker process restarted on reclaim (SIGTERM), up to `max_restarts`.
    """
    from greenpipe.components.spot_train.job import execute_job, job_spec, validate_job
    from greenpipe.components.spot_train.model_bytes import model_bytes
    from greenpipe.components.spot_train.rules import parse_rules
    from greenpipe.components.spot_train.supervisor import run_supervised

    params = dict(estimator_params or {})
    if hyperparameters is not None:
        params.update(_read_hyperparameters(hyperparameters.path))
    if estimator == "auto":
        estimator = _auto_estimator(hyperparameters, warm_start, params)
    ctx = current()
    key = _job_key(
        data,
        validation,
        warm_start,
        target,
        estimator,
        params,
        max_epochs,
        checkpoint_every,
        checkpoint_every_s,
        checkpoint_max_overhead,
        rules,
        seed,
        threads,
    )
    # On SageMaker managed spot, GREENPIPE_CHECKPOINT_DIR is /opt/ml/checkpoints, which SageMaker syncs to S3 and
    # restores after a reclaim: checkpoints written there let the restarted job resume.
    root = os.environ.get("GREENPIPE_CHECKPOINT_DIR") or Path(ctx.home) / "spot_train"
    folder = Path(root) / key
    job = job_spec(
        data.path,
        target,
        estimator,
        max_epochs,
        str(folder / "checkpoints"),
        val_path=validation.path if validation is not None else None,
        estimator_params=params,
        warm_start_path=warm_start.path if warm_start is not None else None,
        checkpoint_every=checkpoint_every,
        checkpoint_every_s=checkpoint_every_s,
        rules=rules,
        seed=seed,
        max_overhead=checkpoint_max_overhead,
        threads=threads,
    )
    validate_job(job)  # bad rule params or estimator: a clear error before any training
    if isolate:
        result = run_supervised(job, folder / "worker", max_restarts=max_restarts)
        summary, task, restarts = result["outcome"], result["task"], result["restarts"]
        with open(folder / "worker" / "model.pkl", "rb") as handle:
            fitted = pickle.load(handle)
    else:
        outcome, fitted, task = execute_job(job)
        if outcome.status == "interrupted":
            raise GreenpipeError(f"spot_train: interrupted by SIGTERM; checkpoints kept in {folder}, rerun resumes")
        summary, restarts = outcome.summary(), 0

    time_based = {rule.name for rule in parse_rules(rules) if rule.time_based}
    last = summary["rows"][-1] if summary["rows"] else {}
    stopped = summary["status"] == "stopped"
    kept_step = summary["best_step"] if stopped else summary["steps"]
    kept = next((r for r in summary["rows"] if int(r["step"]) == kept_step), last)
    described = ModelDescription(
        features=_features(data.path, target),
        target=target,
        estimator=estimator,
        params=params,
        details={
            "task": task,
            "seed": seed,
            "epochs": summary["steps"],
            "kept_epoch": kept_step,
            "stopped_early": stopped,
            "rule": summary["rule"],
            "reason": summary["reason"],
            "findings": [f for f in summary["findings"] if f["rule"] not in time_based],
        },
    )
    write_model_folder(model.path, model_bytes(fitted), described)  # equal models, equal bytes (see model_bytes)
    for name in ("loss", "val_loss", "score", "val_score"):
        if name in kept:
            metrics.log_metric(name, kept[name])
    metrics.log_metric("epochs", summary["steps"])
    metrics.log_metric("stopped_early", float(stopped))
    # Restarts, checkpoint time and clock-based findings are measurements of this run, not results: in an
    # artifact they would make equal inputs give unequal bytes. They go to the step's log.
    ctx.log(
        f"{summary['checkpoints_written']} checkpoints in {summary['checkpoint_s']:.3f} s, {restarts} restarts"
        + "".join(f"; {f['rule']}: {f['reason']}" for f in summary["findings"] if f["rule"] in time_based)
    )

    kwh = summary["kwh_per_step"]
    remaining = max_epochs - summary["steps"]
    if stopped and remaining > 0 and kwh > 0:
        ctx.credit_avoided(
            "early_stop",
            kwh * remaining,
            f"measured {kwh * 1000:.4g} Wh/epoch over {len(summary['rows'])} epochs x {remaining} epochs not run",
            f"{summary['rule']}: {summary['reason']}",
        )
    shutil.rmtree(folder, ignore_errors=True)  # done: the model is the output; failures keep their checkpoints
    return SpotTrainResult(stopped, summary["rule"], summary["steps"])


# bayes_tune's estimator families that spot_train trains epoch by epoch (classification; bayes_tune's metrics are)
TUNED_FAMILIES = {
    family: estimator_row(family, "classification").class_name
    for family in ("hist_gradient_boosting", "random_forest", "mlp")
}


def _auto_estimator(hyperparameters: Artifact | None, warm_start: Model | None, params: dict) -> str:
    """estimator="auto": the estimator bayes_tune tuned (its best_params JSON), else the warm-start model's own
    (its model.json, whose params also become the defaults: continuing a model keeps its settings)."""
    if hyperparameters is None and warm_start is not None:
        described = read_description(warm_start.path)
        if described is not None:
            for name, value in described.params.items():
                params.setdefault(name, value)
            if described.estimator:
                return class_name_of(described.estimator, str(described.details.get("task") or "classification"))
    family = ""
    if hyperparameters is not None:
        source = Path(hyperparameters.path)
        if source.is_dir():
            source = next(iter(sorted(source.glob("*.json"))), source)
        data = json.loads(source.read_text()) if source.is_file() else {}
        family = str(data.get("estimator", "")) if isinstance(data, dict) else ""
    if family not in TUNED_FAMILIES:
        raise GreenpipeError(
            f"spot_train: estimator='auto' takes the estimator from bayes_tune's best_params, which names "
            f"{family or 'none'!r}; spot_train trains {', '.join(TUNED_FAMILIES)} from it: restrict the search "
            "to those, or pass estimator=NAME"
        )
    return TUNED_FAMILIES[family]


def _read_hyperparameters(path: str) -> dict:
    source = Path(path)
    if source.is_dir():
        found = sorted(source.glob("*.json"))
        if not found:
            raise GreenpipeError(f"spot_train: hyperparameters folder {path} holds no .json file")
        source = found[0]
    data = json.loads(source.read_text())
    for key in ("params", "best_params", "hyperparameters"):
        if isinstance(data, dict) and isinstance(data.get(key), dict):
            return dict(data[key])
    if not isinstance(data, dict):
        raise GreenpipeError(f"spot_train: hyperparameters {path} must hold a JSON object of estimator params")
    return data


def _features(path: str, target: str) -> list[str]:
    """Feature columns as pandas reads them (a stored index is not a feature)."""
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    index = {c for c in (schema.pandas_metadata or {}).get("index_columns", []) if isinstance(c, str)}
    return [name for name in schema.names if name != target and name not in index]


def _digest(artifact: Dataset | Model | None) -> str | None:
    if artifact is None:
        return None
    if artifact.digest:
        return artifact.digest
    source = Path(artifact.path)
    files = sorted(source.rglob("*")) if source.is_dir() else [source]
    sha = hashlib.sha256()
    for file in files:
        if file.is_file():
            sha.update(file.read_bytes())
    return sha.hexdigest()


def _job_key(train: Dataset, validation: Dataset | None, warm_start: Model | None, *params: object) -> str:
    """Same inputs and params -> same checkpoint folder, so a rerun after a failure resumes."""
    text = json.dumps([_digest(train), _digest(validation), _digest(warm_start), *params], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]

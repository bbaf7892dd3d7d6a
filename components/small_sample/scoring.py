"""The registry's metrics as small_sample judges candidates by them (all higher-is-better), and task inference."""

from __future__ import annotations

from typing import Any

from greenpipe.components.contracts.metrics import METRICS as REGISTRY
from greenpipe.components.contracts.metrics import NEGATED_ALIASES, Metric
from greenpipe.errors import GreenpipeError

# Learning curves and bounds here assume higher is better: an error metric is judged by its negation, under
# sklearn's scorer name (neg_rmse). log_loss is left out, as small_sample never offered it.
METRICS: dict[str, Metric] = {
    m.name: m for m in (REGISTRY[name].maximised() for name in REGISTRY if name != "log_loss")
}
DEFAULT_METRIC = {"classification": "accuracy", "regression": "r2"}


def infer_task(y: Any, task: str, metric: str) -> str:
    """`task` if given; else the metric's task; else classification for labels with few distinct values."""
    if task not in ("auto", "classification", "regression"):
        raise GreenpipeError(f"task={task!r} must be 'auto', 'classification' or 'regression'")
    negated = {name: old for old, name in NEGATED_ALIASES.items()}
    if metric in negated:
        raise GreenpipeError(
            f"metric={metric!r} is lower-is-better and small_sample maximises: pass metric={negated[metric]!r} "
            f"and give threshold as a negative number (e.g. {metric} <= 2.5 is threshold=-2.5)"
        )
    if metric != "auto" and metric not in METRICS:
        raise GreenpipeError(f"metric={metric!r} is not known: use one of auto, {', '.join(METRICS)}")
    if metric != "auto":
        implied = METRICS[metric].task
        if task not in ("auto", implied):
            raise GreenpipeError(
                f"metric={metric!r} is a {implied} metric but task={task!r}; "
                f"pick a {task} metric ({', '.join(m for m in METRICS if METRICS[m].task == task)})"
            )
        return implied
    if task != "auto":
        return task
    import pandas as pd

    numeric_float = pd.api.types.is_float_dtype(y) and not (y.dropna() % 1 == 0).all()
    return (
        "regression" if numeric_float or (pd.api.types.is_numeric_dtype(y) and y.nunique() > 20) else "classification"
    )


def resolve_metric(metric: str, task: str) -> Metric:
    return METRICS[DEFAULT_METRIC[task] if metric == "auto" else metric]

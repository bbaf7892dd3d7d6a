"""Metrics small_sample can judge candidates by (all higher-is-better) and which task each belongs to."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from greenpipe.errors import GreenpipeError


@dataclass(frozen=True)
class Metric:
    name: str
    task: str  # classification | regression
    best: float  # the value no model can beat (caps learning-curve predictions)
    score: Callable[[Any, Any, Any], float]  # (fitted model, X, y) -> value


def _accuracy(model: Any, X: Any, y: Any) -> float:
    from sklearn.metrics import accuracy_score

    return float(accuracy_score(y, model.predict(X)))


def _balanced_accuracy(model: Any, X: Any, y: Any) -> float:
    from sklearn.metrics import balanced_accuracy_score

    return float(balanced_accuracy_score(y, model.predict(X)))


def _f1(model: Any, X: Any, y: Any) -> float:
    """F1 of the positive class for two classes, macro-averaged over classes otherwise."""
    from sklearn.metrics import f1_score

    classes = list(model.classes_)
    if len(classes) == 2:
        return float(f1_score(y, model.predict(X), pos_label=classes[1]))
    return float(f1_score(y, model.predict(X), average="macro"))


def _roc_auc(model: Any, X: Any, y: Any) -> float:
    """ROC AUC of the positive class for two classes, one-vs-rest macro otherwise."""
    from sklearn.metrics import roc_auc_score

    proba = model.predict_proba(X)
    classes = list(model.classes_)
    if len(classes) == 2:
        return float(roc_auc_score(y, proba[:, 1]))
    return float(roc_auc_score(y, proba, multi_class="ovr", labels=classes))


def _r2(model: Any, X: Any, y: Any) -> float:
    from sklearn.metrics import r2_score

    return float(r2_score(y, model.predict(X)))


def _neg_rmse(model: Any, X: Any, y: Any) -> float:
    from sklearn.metrics import root_mean_squared_error

    return -float(root_mean_squared_error(y, model.predict(X)))


def _neg_mae(model: Any, X: Any, y: Any) -> float:
    from sklearn.metrics import mean_absolute_error

    return -float(mean_absolute_error(y, model.predict(X)))


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("accuracy", "classification", 1.0, _accuracy),
        Metric("balanced_accuracy", "classification", 1.0, _balanced_accuracy),
        Metric("f1", "classification", 1.0, _f1),
        Metric("roc_auc", "classification", 1.0, _roc_auc),
        Metric("r2", "regression", 1.0, _r2),
        Metric("neg_rmse", "regression", 0.0, _neg_rmse),
        Metric("neg_mae", "regression", 0.0, _neg_mae),
    )
}
DEFAULT_METRIC = {"classification": "accuracy", "regression": "r2"}


def infer_task(y: Any, task: str, metric: str) -> str:
    """`task` if given; else the metric's task; else classification for labels with few distinct values."""
    if task not in ("auto", "classification", "regression"):
        raise GreenpipeError(f"task={task!r} must be 'auto', 'classification' or 'regression'")
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

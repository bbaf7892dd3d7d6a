"""Score a candidate on the evaluation data with the register component's metric table, and its agreement."""

from __future__ import annotations

from typing import Any

from greenpipe.components.compress.errors import CompressError


def metric_direction(metric: str) -> bool:
    """True when higher is better; the metric must be one register can recompute (a shared contract)."""
    from greenpipe.components.register.scoring import METRICS

    if metric not in METRICS:
        raise CompressError(f"metric={metric!r} is not one compress can compute: use one of {', '.join(METRICS)}")
    return METRICS[metric][1]


def metric_value(metric: str, predictor: Any, x: Any, y: Any) -> tuple[float, Any]:
    """(`metric` of `predictor` on x, y; its predictions)."""
    import numpy as np
    from sklearn import metrics as skm

    pred = np.asarray(predictor.predict(x))
    if metric in ("roc_auc", "log_loss"):
        proba = np.asarray(predictor.predict_proba(x))
        if metric == "log_loss":
            return float(skm.log_loss(y, proba, labels=getattr(predictor, "classes_", None))), pred
        if proba.shape[1] == 2:
            return float(skm.roc_auc_score(y, proba[:, 1])), pred
        return float(skm.roc_auc_score(y, proba, multi_class="ovr")), pred
    scorers = {
        "accuracy": skm.accuracy_score,
        "balanced_accuracy": skm.balanced_accuracy_score,
        "f1": lambda t, p: skm.f1_score(t, p, average="binary" if len(np.unique(t)) <= 2 else "macro"),
        "r2": skm.r2_score,
        "rmse": lambda t, p: skm.mean_squared_error(t, p) ** 0.5,
        "mae": skm.mean_absolute_error,
    }
    return float(scorers[metric](y, pred)), pred


def agreement(original: Any, candidate: Any, classifier: bool) -> float:
    """Share of rows where the candidate predicts what the original does (regressors: within 1e-4 relative)."""
    import numpy as np

    a, b = np.asarray(original).ravel(), np.asarray(candidate).ravel()
    if classifier:
        return float(np.mean(a.astype(str) == b.astype(str)))
    scale = max(float(np.abs(a).max(initial=0.0)), 1e-12)
    return float(np.mean(np.abs(a.astype(float) - b.astype(float)) <= 1e-4 * scale))

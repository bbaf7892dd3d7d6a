"""Score a fitted model on a Parquet dataset with a named metric (used to re-evaluate a champion on new data)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from greenpipe.components.register.errors import RegistryError

# metric -> (needs probabilities, higher is better)
METRICS: dict[str, tuple[bool, bool]] = {
    "accuracy": (False, True),
    "balanced_accuracy": (False, True),
    "f1": (False, True),
    "roc_auc": (True, True),
    "log_loss": (True, False),
    "r2": (False, True),
    "rmse": (False, False),
    "mae": (False, False),
}


def model_spec(model_dir: str | Path) -> dict[str, Any]:
    """The model's model.json ({"estimator", "features", "target", "params"}), or {} if absent."""
    path = Path(model_dir) / "model.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def score(estimator: Any, spec: dict[str, Any], data_path: str | Path, metric: str, target: str = "") -> float:
    """`metric` of `estimator` on the dataset, using the features and target its model.json names."""
    import pandas as pd
    from sklearn import metrics as skm

    if metric not in METRICS:
        raise RegistryError(
            f"metric={metric!r} cannot be recomputed by register; computable: "
            f"{', '.join(METRICS)}. Evaluate the champion yourself on the same data"
        )
    frame = pd.read_parquet(data_path)
    target = target or spec.get("target", "")
    if target not in frame.columns:
        raise RegistryError(
            f"target={target!r} (from model.json) is not a column of the evaluation data "
            f"{data_path}; columns: {list(frame.columns)[:12]}"
        )
    features = spec.get("features") or [c for c in frame.columns if c != target]
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise RegistryError(
            f"the evaluation data lacks the model's features {missing}; pass data with the columns listed in model.json"
        )
    x, y = frame[features], frame[target]
    if metric in ("roc_auc", "log_loss"):
        proba = estimator.predict_proba(x)
        if metric == "log_loss":
            return float(skm.log_loss(y, proba, labels=getattr(estimator, "classes_", None)))
        return float(
            skm.roc_auc_score(y, proba[:, 1]) if proba.shape[1] == 2 else skm.roc_auc_score(y, proba, multi_class="ovr")
        )
    pred = estimator.predict(x)
    if metric == "accuracy":
        return float(skm.accuracy_score(y, pred))
    if metric == "balanced_accuracy":
        return float(skm.balanced_accuracy_score(y, pred))
    if metric == "f1":
        return float(skm.f1_score(y, pred, average="binary" if y.nunique() <= 2 else "macro"))
    if metric == "r2":
        return float(skm.r2_score(y, pred))
    if metric == "rmse":
        return float(skm.mean_squared_error(y, pred) ** 0.5)
    return float(skm.mean_absolute_error(y, pred))

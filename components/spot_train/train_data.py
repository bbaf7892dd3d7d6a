"""What a trainer learns from and how an epoch is scored: the training and validation rows as arrays, and the loss
and score the stop-rules and the kept epoch read. A leaf of spot_train, shared by the scikit-learn and torch loops."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from greenpipe.components.contracts.metrics import METRICS
from greenpipe.errors import GreenpipeError


@dataclass
class TrainData:
    X: Any
    y: Any
    X_val: Any
    y_val: Any
    features: list[str]
    target: str


def load_data(train_path: str, val_path: str | None, target: str) -> TrainData:
    """Features are every column but `target`; they must be numeric."""
    import numpy as np
    import pandas as pd

    def read(path: str, field: str) -> tuple[Any, Any, list[str]]:
        frame = pd.read_parquet(path)
        if target not in frame.columns:
            raise GreenpipeError(
                f"spot_train: target={target!r} is not a column of {field} "
                f"({', '.join(map(str, frame.columns[:8]))}...); pass the label column's name"
            )
        X = frame.drop(columns=[target])
        bad = [str(c) for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
        if bad:
            raise GreenpipeError(f"spot_train: {field} has non-numeric feature columns {bad}; encode them first")
        return X.to_numpy(dtype=np.float64), frame[target].to_numpy(), [str(c) for c in X.columns]

    X, y, features = read(train_path, "data")
    X_val = y_val = None
    if val_path is not None:
        X_val, y_val, val_features = read(val_path, "validation")
        if val_features != features:
            raise GreenpipeError(f"spot_train: validation columns {val_features} differ from data's {features}")
    return TrainData(X, y, X_val, y_val, features, target)


def evaluate(task: str, model: Any, data: TrainData) -> dict[str, float]:
    """loss (log loss or MSE) on train, and val_loss / val_score (accuracy or R^2) on validation."""
    import numpy as np
    from sklearn.metrics import mean_squared_error

    def scores(X: Any, y: Any) -> tuple[float, float]:
        if task == "classification":
            proba = model.predict_proba(X)
            if not np.all(np.isfinite(proba)):
                return math.nan, math.nan
            labels = list(model.classes_)
            predicted = np.asarray(labels)[proba.argmax(1)]
            return METRICS["log_loss"].of(y, proba, labels), METRICS["accuracy"].of(y, predicted, labels)
        pred = model.predict(X)
        if not np.all(np.isfinite(pred)):
            return math.nan, math.nan
        return float(mean_squared_error(y, pred)), METRICS["r2"].of(y, pred)  # MSE is a loss, not a registry metric

    loss, score = scores(data.X, data.y)
    out = {"loss": loss, "score": score}
    if data.X_val is not None:
        out["val_loss"], out["val_score"] = scores(data.X_val, data.y_val)
    return out

"""Score a fitted model on a Parquet dataset with a registry metric (used to re-evaluate a champion on new data)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from greenpipe.components.contracts.metrics import METRICS
from greenpipe.components.contracts.model_folder import ModelDescription
from greenpipe.components.register.errors import RegistryError


def score(
    estimator: Any, described: ModelDescription | None, data_path: str | Path, metric: str, target: str = ""
) -> float:
    """`metric` of `estimator` on the dataset, using the features and target its model.json names."""
    import pandas as pd

    if metric not in METRICS:
        raise RegistryError(
            f"metric={metric!r} cannot be recomputed by register; computable: "
            f"{', '.join(METRICS)}. Evaluate the champion yourself on the same data"
        )
    described = described or ModelDescription()
    frame = pd.read_parquet(data_path)
    target = target or described.target
    if target not in frame.columns:
        raise RegistryError(
            f"target={target!r} (from model.json) is not a column of the evaluation data "
            f"{data_path}; columns: {list(frame.columns)[:12]}"
        )
    features = described.feature_columns(list(frame.columns))
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise RegistryError(
            f"the evaluation data lacks the model's features {missing}; pass data with the columns listed in model.json"
        )
    return METRICS[metric].score(estimator, frame[features], frame[target])

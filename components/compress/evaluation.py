"""Score a candidate on the evaluation data with the metric registry, and its agreement with the original."""

from __future__ import annotations

from typing import Any

from greenpipe.components.compress.errors import CompressError
from greenpipe.components.contracts.metrics import METRICS


def metric_direction(metric: str) -> bool:
    """True when higher is better; the metric must be one of the registry's (register can recompute it too)."""
    if metric not in METRICS:
        raise CompressError(f"metric={metric!r} is not one compress can compute: use one of {', '.join(METRICS)}")
    return METRICS[metric].higher_is_better


def metric_value(metric: str, predictor: Any, x: Any, y: Any) -> tuple[float, Any]:
    """(`metric` of `predictor` on x, y; its predictions)."""
    import numpy as np

    scorer = METRICS[metric]
    pred = np.asarray(predictor.predict(x))
    output = scorer.model_output(predictor, x) if scorer.needs_probabilities else pred
    return scorer.of(y, output, getattr(predictor, "classes_", None)), pred


def agreement(original: Any, candidate: Any, classifier: bool) -> float:
    """Share of rows where the candidate predicts what the original does (regressors: within 1e-4 relative)."""
    import numpy as np

    a, b = np.asarray(original).ravel(), np.asarray(candidate).ravel()
    if classifier:
        return float(np.mean(a.astype(str) == b.astype(str)))
    scale = max(float(np.abs(a).max(initial=0.0)), 1e-12)
    return float(np.mean(np.abs(a.astype(float) - b.astype(float)) <= 1e-4 * scale))

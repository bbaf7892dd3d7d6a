"""drift_gate: a baseline at training time, then a gate on each batch that says whether to retrain, and why."""

from greenpipe.components.drift_gate.steps import (
    DriftGateResult,
    baseline_from_model_monitor,
    baseline_to_model_monitor,
    drift_baseline,
    drift_gate,
)

STEPS = [drift_baseline, drift_gate, baseline_from_model_monitor, baseline_to_model_monitor]

__all__ = [
    "STEPS",
    "DriftGateResult",
    "baseline_from_model_monitor",
    "baseline_to_model_monitor",
    "drift_baseline",
    "drift_gate",
]

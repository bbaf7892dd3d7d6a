"""What planning and running a pipeline return: a step's result, a run's result, a plan item."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class StepResult:
    name: str
    status: str  # ran | cached | skipped | failed
    reason: str = ""
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_mb: float = 0.0
    energy_wh: float = 0.0
    co2e_g: float = 0.0
    avoided_wh: float = 0.0
    avoided_co2e_g: float = 0.0
    exec_id: str | None = None
    error: str | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunResult:
    run_id: str
    pipeline: str
    status: str
    steps: list[StepResult]
    region: str
    intensity_g_per_kwh: float
    intensity_source: str

    def totals(self) -> dict[str, float]:
        return run_totals([asdict(s) for s in self.steps])

    def step(self, name: str) -> StepResult:
        return next(s for s in self.steps if s.name == name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "pipeline": self.pipeline,
            "status": self.status,
            "region": self.region,
            "intensity_g_per_kwh": self.intensity_g_per_kwh,
            "intensity_source": self.intensity_source,
            "steps": [asdict(s) for s in self.steps],
            "totals": self.totals(),
        }


@dataclass
class PlanItem:
    name: str
    action: str  # run | cached | skip
    reason: str
    untracked: tuple[str, ...] = ()  # values the step's code reaches that its fingerprint cannot see
    varies: str = ""  # why its outputs differ between runs on the same inputs, if they do

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "action": self.action,
            "reason": self.reason,
            "untracked": list(self.untracked),
            "varies": self.varies or None,
        }


def run_totals(steps: list[dict[str, Any]]) -> dict[str, float]:
    """A run's totals from its steps (as `run --json` and `show --json` print them): sums, peak, counts."""
    keys = ("wall_s", "cpu_s", "energy_wh", "co2e_g", "avoided_wh", "avoided_co2e_g")
    out: dict[str, float] = {k: round(sum(s[k] or 0 for s in steps), 9) for k in keys}
    out["peak_mb"] = max((s["peak_mb"] or 0 for s in steps), default=0.0)
    for status in ("ran", "cached", "skipped", "failed"):
        out[status] = sum(1 for s in steps if s["status"] == status)
    return out

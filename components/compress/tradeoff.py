"""The trade-off table: each candidate's metric, agreement with the original, size and measured cost; the choice.

The choice is the cheapest candidate (CPU seconds per 1,000 predictions, measured) whose metric is within
`max_metric_drop` points of the original's. Candidates within `TIE_SHARE` of the cheapest count as equally cheap
and the smallest on disk wins among them, so load noise between two near-equal forms does not flip the choice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TIE_SHARE = 0.2  # measured costs within 20% of the cheapest are treated as a tie (timing noise under load)


@dataclass
class Row:
    name: str
    route: str
    ok: bool
    reason: str = ""
    size_bytes: int = 0
    metric: float | None = None
    drop_pts: float | None = None
    agreement: float | None = None
    p50_ms_b1: float | None = None
    p99_ms_b1: float | None = None
    p50_ms_b1000: float | None = None
    p99_ms_b1000: float | None = None
    cpu_s_per_1000: float | None = None
    rows_per_s: float | None = None
    within_bar: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def drop_points(original: float, value: float, higher_is_better: bool) -> float:
    """How much worse `value` is than `original`, in points (0.01 of the metric: 1 point = 1% accuracy)."""
    return (original - value) * 100 if higher_is_better else (value - original) * 100


def choose(rows: list[Row], max_metric_drop: float) -> Row:
    """The cheapest row within the bar (the original always is: it drops 0 points)."""
    eligible = [r for r in rows if r.ok and r.within_bar and r.cpu_s_per_1000 is not None]
    best = min(r.cpu_s_per_1000 for r in eligible if r.cpu_s_per_1000 is not None)
    tied = [r for r in eligible if (r.cpu_s_per_1000 or 0.0) <= best * (1 + TIE_SHARE)]
    return min(tied, key=lambda r: (r.size_bytes, r.name != "original", r.name))


def markdown(rows: list[Row], chosen: str, metric: str, max_metric_drop: float) -> str:
    head = (
        f"| form | route | {metric} | drop (pts) | agreement | size (bytes) | p50 / p99 ms, batch 1 | "
        "p50 / p99 ms, batch 1000 | CPU s / 1k preds | status |\n|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in rows:
        if not r.ok:
            lines.append(f"| {r.name} | {r.route} | | | | | | | | failed: {r.reason} |")
            continue
        status = "**chosen**" if r.name == chosen else ("within bar" if r.within_bar else "over the bar")
        lines.append(
            f"| {r.name} | {r.route} | {r.metric:.4f} | {r.drop_pts:+.2f} | {r.agreement:.2%} | {r.size_bytes} | "
            f"{r.p50_ms_b1:.3f} / {r.p99_ms_b1:.3f} | {r.p50_ms_b1000:.3f} / {r.p99_ms_b1000:.3f} | "
            f"{r.cpu_s_per_1000:.5f} | {status} |"
        )
    return (
        f"Bar: {metric} may drop at most {max_metric_drop:g} points below the original's. Latencies and CPU are "
        "measured on this machine, one inference thread.\n\n" + head + "\n".join(lines) + "\n"
    )

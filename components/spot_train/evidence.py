"""How far a metric moved over its recent steps, and how sure that is given the metric's own noise.

Stop-rules decide on evidence, not on single points: a noisy validation curve (SGD, small batches) swings by
more than any fixed `delta` from epoch to epoch, so "the best value was N steps ago" or "it fell less than 0.1%
since N steps ago" fire on noise. A `Trend` fits a straight line to the last steps and gives the change along
it with a standard error measured from the scatter around the line (corrected for the positive lag-1
autocorrelation that training curves have), so a rule can ask whether a change is larger, or smaller, than a
threshold by more than `sigmas` standard errors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Trend:
    """The fitted change over a window of steps, its standard error, and the fitted level at its start."""

    change: float
    stderr: float
    start: float
    steps: int

    def lower(self, sigmas: float) -> float:
        """The change is above this with `sigmas` standard errors of evidence."""
        return self.change - sigmas * self.stderr

    def upper(self, sigmas: float) -> float:
        """The change is below this with `sigmas` standard errors of evidence."""
        return self.change + sigmas * self.stderr


def trend(values: Sequence[float]) -> Trend:
    """Least-squares line through `values` (one per step, at least 3): change from first to last step along it."""
    n = len(values)
    if n < 3:
        raise ValueError("a trend needs at least 3 values")
    mean_x = (n - 1) / 2
    mean_y = math.fsum(values) / n
    sxx = math.fsum((i - mean_x) ** 2 for i in range(n))
    slope = math.fsum((i - mean_x) * (v - mean_y) for i, v in enumerate(values)) / sxx
    residuals = [v - (mean_y + slope * (i - mean_x)) for i, v in enumerate(values)]
    sse = math.fsum(r * r for r in residuals)
    scale = max(abs(mean_y), 1e-300)
    if sse <= (1e-12 * scale) ** 2 * n:  # a flat or exactly linear series: no noise to allow for
        stderr = 0.0
    else:
        slope_se = math.sqrt(sse / (n - 2) / sxx)
        stderr = slope_se * (n - 1) * _autocorrelation_inflation(residuals, sse)
    return Trend(slope * (n - 1), stderr, mean_y - slope * mean_x, n)


def _autocorrelation_inflation(residuals: list[float], sse: float) -> float:
    """sqrt((1 + r1) / (1 - r1)) for lag-1 autocorrelation r1 > 0: correlated noise carries less evidence."""
    r1 = math.fsum(a * b for a, b in zip(residuals, residuals[1:], strict=False)) / sse
    r1 = min(max(r1, 0.0), 0.9)
    return math.sqrt((1 + r1) / (1 - r1))


def finite_tail(values: Sequence[float], n: int) -> list[float] | None:
    """The last `n` values if there are that many and all are finite, else None."""
    if len(values) < n:
        return None
    tail = list(values[-n:])
    return tail if all(math.isfinite(v) for v in tail) else None

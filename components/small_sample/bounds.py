"""Bounds on a candidate's full-data metric from the learning curve measured so far (LCCV-style).

Learning-curve cross-validation (Mohr and van Rijn) drops a candidate as soon as an optimistic extrapolation of
its curve cannot beat the best; it rests on learning curves flattening as the sample grows. The same two
assumptions give both bounds here, each widened by a noise margin:

- pessimistic: more data does not make a model worse on average, so the full-data metric is at least the
  lower of the last two measured points;
- optimistic: gains shrink as the sample grows (the curve is concave in the log of the sample size, as an
  inverse power law is), so the full-data metric is at most the last point plus the steepest of the last
  two slopes (per log-step) carried to the full data.

LCDB's curves (Mohr et al., 2022) are mostly but not always monotone and concave; the margin covers the
sample-to-sample noise that breaks them, no bound is drawn before three points (a curve can start flat, then
rise: concavity fails at its start), and an inverse-power-law fit decides what the bounds leave open.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class CurveBounds:
    """The full-data metric is expected in [low, high]."""

    low: float
    high: float


MIN_POINTS = 3  # two points: a curve can still be in its flat start (random forest on rainfall: 1% and 2% flat)


def curve_bounds(fractions: list[float], values: list[float], margin: float) -> CurveBounds | None:
    """Bounds from three or more measured (fraction, metric) points, or None with fewer."""
    if len(values) < MIN_POINTS:
        return None
    x, m = fractions, values
    slopes = [
        (m[i] - m[i - 1]) / math.log(x[i] / x[i - 1]) for i in range(max(1, len(m) - 2), len(m)) if x[i] > x[i - 1]
    ]
    slope = max([0.0, *slopes])
    last_x = x[-1]
    remaining = math.log(1.0 / last_x) if last_x < 1.0 else 0.0
    high = max(m[-2:]) + slope * remaining + margin
    low = min(m[-2:]) - margin
    return CurveBounds(low, high)

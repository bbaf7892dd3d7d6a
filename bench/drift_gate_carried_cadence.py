"""Issue 14's fallback, as a retrain rule for bench/drift_gate_calendar.py and drift_gate_rainfall.py: the cadence
the stream's own history supports, capped by a cadence carried over from the OTHER streams, with gating kept.

Declared before its first judged run (issue 14: "its default becomes the cadence that the stream's own history
supports ... with gating kept for collapses and bad data"; settings "carried over from another stream" allowed):
  - `capped` (judged): retrain before period t when drift_gate's default rule fires (the CUSUM alarm on the served
    model's KPI history, or dataset drift), or when the model's age t - e (e: the first period it served) reaches
    the cadence cadence.py's cadence_for_budget reads from the initial window's accuracy decay with a budget of
    BUDGET_PTS (1 point, the issue's goal against retraining every period) and `longest` = the stream's CARRIED
    cap;
  - a stream's carried cap is the median of the OTHER streams' hindsight 1-point cadences, rounded down (the
    shorter cadence is the side that keeps the budget); a stream's hindsight 1-point cadence is the longest k
    whose phase-averaged calendar stays within BUDGET_PTS of retraining every period, for k and every shorter
    cadence (measured on its accuracy table, so it is used only for the other streams' caps, never its own);
  - the shipped default cap is the median of all five streams' hindsight cadences (rounded down), which no
    judged figure uses.
  - `carried_calendar` (printed for comparison, not judged): the same without the initial window's decay, i.e.
    drift_gate's default rule OR the model's age reaching the carried cap.
Not in the step: it kept the 1-point budget on rainfall (0.36 points under every period with the real steps, 22
retrains) but lost to the calendar on SEA (-0.28) with a median capture of 0.00 (component README).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from drift_gate_budget_rules import BUDGET_PTS  # issue 14's 1-point budget, one definition


def hindsight_cadence(every: float, calendar_means: Sequence[float], budget: float = BUDGET_PTS / 100) -> int:
    """The longest k such that the calendars every 1..k periods (phase-averaged mean accuracies, k = 1 first) each
    stay within `budget` of retraining every period (`every`). Hindsight: it reads the judged periods."""
    k = 0
    for mean in calendar_means:
        if every - mean > budget + 1e-12:
            break
        k += 1
    return max(1, k)


def carried_caps(hindsight: dict[str, int]) -> dict[str, int]:
    """Each stream's cap: the median of the other streams' hindsight cadences, rounded down."""
    return {
        name: math.floor(float(np.median([k for other, k in hindsight.items() if other != name]))) for name in hindsight
    }


def shipped_cap(hindsight: dict[str, int]) -> int:
    """The step's default cap: the median of every stream's hindsight cadence, rounded down."""
    return math.floor(float(np.median(list(hindsight.values()))))


def schedule(first: int, count: int, default_fires: Callable[[int, int], bool], cadence: int) -> set[int]:
    """Retrain points: default_fires(e, t) is drift_gate's default rule for the model first served at e, decided
    before period t; a model is also retired once it has served `cadence` periods."""
    end, retrain_at = first, set()
    for t in range(first + 1, count):
        if t - end >= cadence or default_fires(end, t):
            end = t
            retrain_at.add(t)
    return retrain_at

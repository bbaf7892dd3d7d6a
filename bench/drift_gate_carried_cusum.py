"""A second lever for issue 14, after the capped rule (drift_gate_carried_cadence.py) missed the calendar goals: the
default rule's own CUSUM settings (slack k, alarm h), carried over from the OTHER streams to keep the accuracy budget.

Declared before its first judged run. Why this lever: the CUSUM is the one rule above the calendar on every
stream, and it misses the 1-point budget on rainfall (and SEA) because its textbook settings (k = 0.5, h = 4) are
set for a one-noise-unit shift, not for a budget; a cadence keeps the budget but is a calendar. The issue allows
settings "carried over from another stream", so the settings are chosen on the other streams for the budget:
  - `carried_cusum` (judged): drift_gate's default rule (CUSUM alarm or dataset drift) with (k, h) from GRID_K x
    GRID_H picked on the OTHER four streams' accuracy tables: among the settings whose rule stays within
    BUDGET_PTS (1 point) of retraining every period on every other stream, the one with the fewest retrains (as a
    share of the decisions, averaged over those streams); ties to the larger h, then the larger k (the less
    eager); if none keeps the budget on all four, the one with the smallest worst-stream loss.
  - the shipped setting would be the same pick over all five streams (printed, no judged figure uses it).
Not in the step: it kept the calendar goals (+0.05, capture 0.49) but rainfall's pick (k 1, h 4) lost 3.23 points
against retraining every period (1.11 with the real steps), the budget it was picked for (component README).
"""

from __future__ import annotations

from collections.abc import Sequence

from drift_gate_budget_rules import BUDGET_PTS  # issue 14's 1-point budget, one definition

GRID_K = (0.25, 0.5, 1.0)  # slack per period, noise units (0.5 textbook)
GRID_H = (1.0, 2.0, 3.0, 4.0, 5.0)  # alarm level, noise units (4 textbook)


def pick(outcomes: dict[tuple[float, float], Sequence[tuple[float, float]]]) -> tuple[float, float]:
    """outcomes[(k, h)] = one (loss in points against every period, retrains / decisions) per stream used to pick.
    Returns the (k, h) the declared order prefers."""
    keeping = [s for s, rows in outcomes.items() if all(loss <= BUDGET_PTS + 1e-9 for loss, _ in rows)]
    if keeping:
        return min(keeping, key=lambda s: (sum(r for _, r in outcomes[s]) / len(outcomes[s]), -s[1], -s[0]))
    return min(outcomes, key=lambda s: (max(loss for loss, _ in outcomes[s]), -s[1], -s[0]))

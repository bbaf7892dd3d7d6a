"""The retraining cadence a stream's own history supports: the fewest retrains that keep the accuracy budget.

drift_gate's opt-in schedule, for teams that want a calendar read from the data: how fast a model's accuracy
decays with its age, measured on the training window before anything is served, and the accuracy the user is
willing to give up on average against retraining every period. (The default rule is the KPI CUSUM of
kpi_cusum.py; on bench/drift_gate_calendar.py's streams this schedule only matched the calendar.)
"""

from __future__ import annotations

from greenpipe.errors import GreenpipeError


def decay_per_period(accuracy_by_age: list[float]) -> float:
    """Least-squares slope of accuracy lost per period of model age (>= 0; 0 when accuracy did not fall)."""
    if len(accuracy_by_age) < 2:
        raise GreenpipeError(
            f"accuracy_by_age has {len(accuracy_by_age)} value(s); give the model's accuracy at ages 1, 2, ... "
            "(at least two periods after its training window)"
        )
    n = len(accuracy_by_age)
    ages = range(1, n + 1)
    mean_age, mean_acc = (n + 1) / 2, sum(accuracy_by_age) / n
    slope = sum((a - mean_age) * (y - mean_acc) for a, y in zip(ages, accuracy_by_age, strict=True)) / sum(
        (a - mean_age) ** 2 for a in ages
    )
    return max(0.0, -slope)


def cadence_for_budget(accuracy_by_age: list[float], budget: float, longest: int) -> int:
    """Retrain every k periods, k as large as keeps the mean accuracy loss against retraining every period within
    `budget` (accuracy, e.g. 0.005 for half a point): with a linear decay d per period of age, a k-period cadence
    loses d (k - 1) / 2 on average. `longest` caps k (a model is not served unchecked forever)."""
    if budget < 0:
        raise GreenpipeError(f"budget={budget!r} must be >= 0: the mean accuracy you accept to lose, e.g. 0.005")
    if longest < 1:
        raise GreenpipeError(f"longest={longest!r} must be >= 1 period")
    decay = decay_per_period(accuracy_by_age)
    if decay == 0:
        return longest
    return max(1, min(longest, 1 + int(2 * budget / decay + 1e-9)))  # (1e-9: 0.01 / 0.01 must not floor to 0)


def schedule_status(
    model_age: int | None, cadence: int | None, accuracy_by_age: list[float] | None, budget: float
) -> dict | None:
    """Whether the model is due by its cadence (given, or read from `accuracy_by_age`); None without a schedule."""
    if model_age is None or (cadence is None and not accuracy_by_age):
        if cadence is not None or accuracy_by_age:
            raise GreenpipeError(
                "model_age is not set: a cadence needs the model's age in periods (0 for the period it was "
                "trained for); pass model_age, or drop cadence/accuracy_by_age to gate on drift and the KPI"
            )
        return None
    if model_age < 0:
        raise GreenpipeError(f"model_age={model_age!r} must be >= 0 periods")
    decay = None
    if cadence is None:
        decay = decay_per_period(list(accuracy_by_age or []))
        cadence = cadence_for_budget(
            list(accuracy_by_age or []), budget, longest=max(2, 4 * len(accuracy_by_age or []))
        )
        source = f"from an accuracy decay of {100 * decay:.2f} pts per period and a budget of {100 * budget:.2f} pts"
    else:
        if cadence < 1:
            raise GreenpipeError(f"cadence={cadence!r} must be >= 1 period")
        source = "as given"
    due = model_age >= cadence
    reason = f"model age {model_age} {'>=' if due else '<'} cadence {cadence} periods ({source})"
    return {"model_age": model_age, "cadence": cadence, "decay_per_period": decay, "due": due, "reason": reason}

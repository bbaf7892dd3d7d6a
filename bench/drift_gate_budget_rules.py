"""Issue 14's untried lever, as retrain rules for bench/drift_gate_calendar.py: the user's accuracy budget.

The user states how many accuracy points they accept to lose on average against retraining every period
(BUDGET_PTS); each rule tries to keep within it with the fewest retrains, from what it could know at the time
(labels one period late). None of them is in the step: on the five streams none kept the budget on rainfall with
60% fewer retrains, and none beat the calendar on every stream (component README, "Gate or calendar").

  budget          declared before the run: the model's mean shortfall since training (each period against its
                  own first accuracy of the same season), plus the next period's expected shortfall (the latest
                  season's: persistence), must stay within the budget; retrain the period it would not.
  budget_cusum    drift_gate's CUSUM with the budget as its slack (k = budget / noise instead of 0.5): excess loss
                  over the budget accumulates to the alarm. Tried after `budget` lost.
  history_cadence the issue's fallback ("the cadence the stream's own history supports"): the accuracy decay
                  with model age pooled over every model served so far (within model and season, so each model's
                  own level and each season's cancel), the cadence 1 + 2 budget / decay (cadence.py's formula),
                  with the CUSUM kept for collapses. Tried after `budget` lost.
  measured_buy    what past retrains bought: after a retrain both the old and the new model are scored on each
                  labelled period (inference is cheap, a fit is not), so the gain per period of model age is
                  measured, not assumed; cadence 1 + 2 budget / gain, with the CUSUM kept. Tried after `budget`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

BUDGET_PTS = 1.0  # issue 14's goal: at most 1 accuracy point under retraining every period


def budget_loss(kpi_by_age: list[float], season: int) -> float:
    """The model's expected mean shortfall over its life if it serves one more period (the `budget` rule)."""
    references = kpi_by_age[:season]
    shortfalls = [references[age % season] - value for age, value in enumerate(kpi_by_age)]
    latest = shortfalls[-season:]  # a whole season, so one noisy period does not decide alone
    return (sum(shortfalls) + sum(latest) / len(latest)) / (len(shortfalls) + 1)


def within_model_decay(histories: list[list[float]], season: int) -> float | None:
    """Accuracy lost per period of model age, pooled over models by a within-model, within-season slope (each
    model's first accuracy, lucky or not, cancels); None until some model has two periods of one season."""
    num = den = 0.0
    for history in histories:
        for phase in range(season):
            values = np.array(history[phase::season])
            if values.size < 2:
                continue
            ages = np.arange(phase, len(history), season, dtype=float)
            num += float(((ages - ages.mean()) * (values - values.mean())).sum())
            den += float(((ages - ages.mean()) ** 2).sum())
    return max(0.0, -num / den) if den else None


def cadence_from_decay(decay: float | None, budget: float) -> float:
    """cadence.py's rule: a k-period cadence loses decay x (k - 1) / 2 on average."""
    return 1 + 2 * budget / decay if decay else math.inf


def schedules(
    accuracy: Callable[[int, int], float], rows: list[float], first: int, season: int, cusum: Callable[..., dict]
) -> dict[str, set[int]]:
    """Each budget rule's retrain points on one stream: accuracy(e, t) is the model ending at e on period t (a
    table look-up in drift_gate_calendar.py, a fit and a score in drift_gate_rainfall.py); rows[t] its rows."""
    from greenpipe.components.drift_gate.kpi_cusum import accuracy_noise

    budget = BUDGET_PTS / 100
    count = len(rows)
    out: dict[str, set[int]] = {}
    for name in ("budget", "budget_cusum", "history_cadence", "measured_buy"):
        end, retrain_at, retired, swaps = first, set(), [], []
        for t in range(first + 1, count):
            history = [accuracy(end, p) for p in range(end, t)]
            served_rows = [float(r) for r in rows[end:t]]
            if name == "budget":
                wants = budget_loss(history, season) > budget
            elif name == "budget_cusum":
                references = history[:season]
                noise = accuracy_noise(sum(references) / len(references), sum(served_rows) / len(served_rows))
                wants = cusum(history, served_rows, season, k=budget / max(noise, 1e-9))["alarm"]
            else:
                if name == "history_cadence":
                    decay = within_model_decay([*retired, history], season)
                else:  # measured_buy: new minus old model on each period both were scored on, per period of age
                    num = den = 0.0
                    for old, new in swaps:
                        for p in range(new, t):
                            num += (accuracy(new, p) - accuracy(old, p)) * (new - old)
                            den += (new - old) ** 2
                    decay = max(0.0, num / den) if den else None
                wants = t - end >= cadence_from_decay(decay, budget) or cusum(history, served_rows, season)["alarm"]
            if wants:
                retired.append(history)
                swaps.append((end, t))
                end = t
                retrain_at.add(t)
        out[name] = retrain_at
    return out


def reference_check(
    accuracy: Callable[[int, int], float], first: int, count: int, season: int, budget_at: set[int]
) -> str:
    """Why a model's own first accuracy is a poor stand-in for a fresh model's: the shortfall since training vs
    the loss against a fresh model, averaged over every model by age, and along the `budget` rule's longest-lived
    model; and how much a fresh model's accuracy varies from period to period."""
    fresh = np.array([accuracy(t, t) for t in range(first, count)])
    parts = [f"fresh model's accuracy sd {100 * fresh.std():.2f} pts"]
    for age in (2, 4, 10):
        ends = range(first, count - age)
        own = np.mean([accuracy(e, e + age % season) - accuracy(e, e + age) for e in ends])
        vs_fresh = np.mean([accuracy(e + age, e + age) - accuracy(e, e + age) for e in ends])
        parts.append(f"age {age}: shortfall since training {100 * own:.2f} vs loss against fresh {100 * vs_fresh:.2f}")
    starts = sorted({first, *budget_at})
    lives = [(b - a, a) for a, b in zip(starts, [*starts[1:], count], strict=True)]
    life, end = max(lives)
    losses = [accuracy(t, t) - accuracy(end, t) for t in range(end, end + life)]
    shortfall = budget_loss([accuracy(end, t) for t in range(end, end + life)], season)
    parts.append(
        f"budget's longest-lived model (trained before {end}, {life} periods): expected shortfall since training "
        f"{100 * shortfall:.2f} pts at the end, loss against a fresh model {100 * np.mean(losses):.2f} pts a period "
        f"(>= 1 pt in {sum(x >= 0.01 for x in losses)})"
    )
    return "; ".join(parts)

"""Issue 14's challenger lever, as a retrain rule for bench/drift_gate_calendar.py: judge a retrain by what a fresh
model would score, estimated by a cheap challenger, with the challenger's compute counted.

Declared before its first judged run (settings fixed here, none read from the judged periods):
  - each labelled period t - 1, a challenger of the champion's family and settings is fitted on a random
    FRACTION (15%, at least MIN_ROWS rows, at most the whole window) of the window ending at t - 1 and scored on
    period t - 1 beside the champion;
  - its predicted full-data score is its score plus an offset measured, not assumed: right after each retrain r
    (and the first model), the champion and the challenger were trained on the same window and both scored on
    period r, so acc(champion, r) - acc(challenger, r) is what the smaller sample costs; the offset is the mean of
    those seen so far (the first one is the initial model's, known at the first decision);
  - the gap on each period p of the champion's life is (challenger + offset - champion); the loss against a
    fresh model grows with model age, so the gap per period of age is the slope through the origin of the gaps
    on the ages seen (the initial-window decay said nothing on rainfall; this is the served model's own);
  - retrain when (a) the newest gap beats the noise of that comparison, 1.645 x sqrt(2 p (1 - p) / n)
    (kpi_cusum.accuracy_noise: a collapse or a step change), or (b) the gap expected next period, slope x age,
    reaches 2 x the budget (1 point, drift_gate_budget_rules.BUDGET_PTS): a model whose loss grows linearly to
    2B over its life loses B on average, which is the budget against retraining every period.
The challenger runs at every decision, so its cost is decisions x (challenger CPU / retrain CPU), both measured
with time.process_time in the same process on the same stream (drift_gate_streams.model records each full fit).
It is not in the step: judged at that cost it fell below the calendar on all five streams, and on rainfall its
challengers cost 0.57-0.65 of a retrain each, as much compute as retraining every period (component README).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

FRACTION = 0.15  # of the window's rows: small_sample's range (10-20%), middle of it
MIN_ROWS = 250  # below this a boosted model is a stump: circle's 200-row window is then fitted whole
Z = 1.645  # one-sided 95%: the newest comparison must beat its noise by this many sds


def challenger_table(stream: Any) -> tuple[np.ndarray, np.ndarray]:
    """chal[e] = accuracy on period e of a challenger fitted on a sample of the window ending at e; cpu[e] its
    fit + scoring CPU seconds. NaN before the first model."""
    import pandas as pd
    from drift_gate_streams import fit

    T = stream.count
    chal, cpu = np.full(T, np.nan), np.full(T, np.nan)
    for end in range(stream.first, T):
        train = pd.concat(stream.periods[end - stream.window : end]).reset_index(drop=True)
        size = min(len(train), max(MIN_ROWS, round(FRACTION * len(train))))
        rng = np.random.default_rng(end)  # seeded by the period: the same bytes every run
        sample = train.iloc[np.sort(rng.choice(len(train), size=size, replace=False))]
        start = time.process_time()
        clf = fit(stream, sample)
        period = stream.periods[end]
        chal[end] = float((clf.predict(period[stream.features]) == period["label"].to_numpy()).mean())
        cpu[end] = time.process_time() - start
    return chal, cpu


def schedule(acc: np.ndarray, chal: np.ndarray, rows: np.ndarray, first: int, budget: float) -> tuple[set[int], int]:
    """The challenger rule's retrain points and how many challengers it ran (one per decision)."""
    from greenpipe.components.drift_gate.kpi_cusum import accuracy_noise

    end, retrain_at, offsets, runs = first, set(), [], 0
    for t in range(first + 1, acc.shape[0]):
        runs += 1  # the challenger on period t - 1, whatever it decides
        if end == t - 1:
            offsets.append(acc[end, end] - chal[end])  # same window, same period: the sample's cost
            continue  # age 0: nothing to compare yet
        offset = float(np.mean(offsets))
        ages = np.arange(1, t - end, dtype=float)
        gaps = np.array([chal[p] + offset - acc[end, p] for p in range(end + 1, t)])
        newest_noise = accuracy_noise(float(acc[end, t - 1]), float(rows[t - 1]))
        slope = float((ages * gaps).sum() / (ages**2).sum())
        if gaps[-1] > Z * newest_noise or slope * (t - end) >= 2 * budget:
            end = t
            retrain_at.add(t)
    return retrain_at, runs


def cost_ratio(challenger_cpu: np.ndarray, fit_cpu: list[float]) -> float:
    """A challenger's CPU seconds as a fraction of a retrain's (means over the stream's fits in this run)."""
    return float(np.nanmean(challenger_cpu) / np.mean(fit_cpu))

"""Peers the spot_train stop-rules are compared with, replayed over the same recorded histories.

- first landing: the rules as they first landed, Debugger's point tests: LossNotDecreasing compares the loss
  with the one num_steps earlier; Overtraining fires when neither loss beat its best by delta for patience
  steps; ExplodingTensor fires on NaN/inf or a loss over 10x its lowest.
- Keras EarlyStopping(monitor="val_loss", patience=10, min_delta=0, restore_best_weights=True) with
  TerminateOnNaN: what most training scripts use.

Each is a function rows -> step it stops at (or None). The kept state is chosen the same way for all (the
best seen), so only the decision to stop differs.
"""

from __future__ import annotations

import math


def _nan(row: dict[str, float]) -> bool:
    return any(isinstance(v, float) and not math.isfinite(v) for v in row.values())


def first_landing(rows: list[dict[str, float]]) -> int | None:
    losses: list[float] = []
    vals: list[float] = []
    for row in rows:
        step = int(row["step"])
        if _nan(row):
            return step
        losses.append(row["loss"])
        if "val_loss" in row:
            vals.append(row["val_loss"])
        if len(losses) > 1 and losses[-1] > 10 * max(min(losses), 1e-12):  # ExplodingTensor, max_ratio 10
            return step
        if len(losses) > 10:  # LossNotDecreasing: num_steps 10, diff_percent 0.1, increase_threshold_percent 5
            now, before = losses[-1], losses[-11]
            if now > before * 1.05 or now > before * (1 - 0.001):
                return step
        for series, patience in ((vals, 10), (losses, 5)):  # Overtraining: delta 0.01
            if len(series) > patience and not min(series[-patience:]) < min(series[:-patience]) - 0.01:
                return step
    return None


def keras_early_stopping(rows: list[dict[str, float]], patience: int = 10) -> int | None:
    best, waited = math.inf, 0
    for row in rows:
        step = int(row["step"])
        if _nan(row):
            return step
        value = row.get("val_loss", row["loss"])
        if value < best:
            best, waited = value, 0
        else:
            waited += 1
            if waited >= patience:
                return step
    return None


PEERS = {"first_landing": first_landing, "keras_early_stopping": keras_early_stopping}

"""Seeded, stratified sampling: one fixed holdout to score on, and nested growing samples to train on."""

from __future__ import annotations

from typing import Any

import numpy as np


def _groups(y: Any, stratify: bool) -> list[np.ndarray]:
    """Positional indices per class (one group holding everything when not stratified)."""
    if not stratify:
        return [np.arange(len(y))]
    codes = np.unique(np.asarray(y), return_inverse=True)[1]
    return [np.flatnonzero(codes == c) for c in range(codes.max() + 1)]


def split_holdout(y: Any, share: float, seed: int, stratify: bool) -> tuple[np.ndarray, np.ndarray]:
    """(train positions, holdout positions); each class keeps its share in both, a singleton stays in train."""
    rng = np.random.default_rng(seed)
    train, hold = [], []
    for group in _groups(y, stratify):
        perm = rng.permutation(group)
        n_hold = min(int(round(share * len(perm))), len(perm) - 1)
        hold.append(perm[:n_hold])
        train.append(perm[n_hold:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(hold))


class NestedSampler:
    """Samples of a training pool that grow: the sample at 10% contains the sample at 5%.

    Nested samples make successive points of a learning curve differ only by the added rows, so the curve is
    smoother than with independent draws. Stratified samples keep every class (at least one row each).
    """

    def __init__(self, y: Any, seed: int, stratify: bool):
        rng = np.random.default_rng(seed + 1)
        self._orders = [rng.permutation(group) for group in _groups(y, stratify)]
        self.stratify = stratify
        self.size = len(y)

    def rows(self, fraction: float) -> np.ndarray:
        """Positions of the sample holding `fraction` of the pool."""
        if fraction >= 1.0:
            return np.arange(self.size)
        floor = 1 if self.stratify else 0
        parts = [order[: max(floor, int(round(fraction * len(order))))] for order in self._orders]
        return np.sort(np.concatenate(parts))


def effective_schedule(
    fractions: list[float], pool_rows: int, min_rows: int, spacing: float = 1.5, min_points: int = 3
) -> list[float]:
    """The schedule, sorted, each fraction raised to at least `min_rows` rows.

    A fraction less than `spacing` times the one before is dropped (two nearly equal samples cost but tell a
    curve nothing). When raising left fewer than `min_points` (small data), the sample is doubled until there
    are enough points for a curve or all the rows are used.
    """
    out: list[float] = []
    for fraction in sorted(float(f) for f in fractions):
        value = min(1.0, max(fraction, min_rows / max(pool_rows, 1)))
        if not out or value >= out[-1] * spacing:
            out.append(value)
    while len(out) < min_points and out[-1] < 1.0:
        out.append(min(1.0, out[-1] * 2))
    return out

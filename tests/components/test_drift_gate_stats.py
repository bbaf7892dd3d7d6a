"""drift_gate's statistics on seeded samples: detection and false alarms of its rule, checked against scipy."""

from __future__ import annotations

import numpy as np
import pytest

from greenpipe.components.drift_gate.gate import DriftSettings, apply_correction
from greenpipe.components.drift_gate.stattests import SortedPair, ks_p_value, lag1_autocorrelation

N, SEEDS = 5_000, 30


def _flag(pair: SortedPair, features: int = 1) -> bool:
    row = {
        "compared": True,
        "uses_p_value": True,
        "threshold": 0.05,
        "p_value": ks_p_value(pair),
        "effect": pair.normalised_wasserstein(),
    }
    rows = [row] + [{"compared": True, "uses_p_value": True, "threshold": 0.05, "p_value": 1.0, "effect": 0.0}] * (
        features - 1
    )
    apply_correction(rows, DriftSettings())
    return bool(row["drifted"])


@pytest.mark.parametrize("draw", ["normal", "lognormal"])
def test_a_tenth_of_an_sd_is_detected_and_resamples_are_not_flagged(draw):
    from scipy import stats

    detected = among_eight = alarms = scipy_detected = 0
    for seed in range(SEEDS):
        rng = np.random.default_rng(seed)
        sample = getattr(rng, draw)(size=3 * N)
        ref, same, other = sample[:N], sample[N : 2 * N], sample[2 * N :]
        shifted = other + 0.1 * sample.std()
        pair = SortedPair(np.sort(ref), shifted)
        assert ks_p_value(pair) == pytest.approx(stats.ks_2samp(ref, shifted).pvalue, rel=1e-6, abs=1e-12)
        detected += _flag(pair)
        scipy_detected += stats.ks_2samp(ref, shifted).pvalue < 0.05
        among_eight += _flag(pair, features=8)  # Bonferroni x 8 costs power: any test's, at this n
        alarms += _flag(SortedPair(np.sort(ref), same))
    assert detected / SEEDS >= 0.9 and detected <= scipy_detected  # the effect floor only removes flags
    assert among_eight / SEEDS >= 0.8
    assert alarms / SEEDS <= 0.05


def test_autocorrelated_days_of_a_stationary_season_do_not_drift_and_a_real_shift_still_does():
    from scipy import stats

    rng = np.random.default_rng(3)

    def season(n: int, shift: float = 0.0) -> np.ndarray:
        noise = np.empty(n)
        noise[0] = rng.normal()
        for d in range(1, n):
            noise[d] = 0.8 * noise[d - 1] + rng.normal() * 0.6
        return noise + shift

    naive = corrected = moved = 0
    for _ in range(SEEDS):
        ref, cur = season(455), season(91)  # 5 past years' quarter vs this year's
        naive += stats.ks_2samp(ref, cur).pvalue < 0.05
        serial = (lag1_autocorrelation(ref), lag1_autocorrelation(cur))
        corrected += _flag(SortedPair(np.sort(ref), cur, autocorrelation=serial))
        shifted = season(91, shift=2.0)  # in sd of the season's noise
        moved += _flag(SortedPair(np.sort(ref), shifted, autocorrelation=(serial[0], lag1_autocorrelation(shifted))))
    assert naive / SEEDS > 0.2  # scipy's KS takes 91 days for 91 independent draws: it fires often
    assert corrected / SEEDS <= 0.05
    assert moved / SEEDS >= 0.9


def test_a_quantile_sketch_of_the_reference_keeps_ks_and_wasserstein_within_its_resolution():
    rng = np.random.default_rng(4)
    full = np.sort(rng.normal(size=400_000))
    sketch = full[np.round(np.linspace(0, full.size - 1, 20_000)).astype(int)]
    current = rng.normal(0.05, 1, size=50_000)
    exact = SortedPair(full, current)
    approx = SortedPair(sketch, current, reference_count=full.size)
    assert abs(approx.ks_statistic() - exact.ks_statistic()) <= 1 / 20_000 + 1e-12
    assert approx.wasserstein() == pytest.approx(exact.wasserstein(), abs=2e-3)
    assert approx.effective_sizes()[0] == full.size

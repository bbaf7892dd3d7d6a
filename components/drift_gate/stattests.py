"""Drift tests as small strategy classes, one method each, picked by name (like Optuna's pruners).

Every test compares one feature's reference with its current values and returns a `Score`: the statistic, a
p-value where the test has one, and whether the statistic alone says "drifted" (distance tests). p-value tests
are decided later, after the correction for testing many features (see gate.py).

Numeric features arrive as a `SortedPair`: the reference sorted once at training time, the current column sorted
once, and KS and Wasserstein read off them together by binary search (the same numbers scipy.stats.ks_2samp and
scipy.stats.wasserstein_distance give, tests/components/test_drift_gate.py); PSI and the plots reuse the sorted
columns. p-values and the other measures come from scipy (ks_2samp or kolmogorov, chi2_contingency,
jensenshannon, rel_entr).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from greenpipe.errors import GreenpipeError

SERIAL_ROWS = 100_000
EXACT_KS_MAX = 10_000  # below this, scipy's own ks_2samp (exact p-values) is cheap enough


@dataclass(frozen=True)
class Score:
    """One feature's test result. `drifted` is None for p-value tests until the correction is applied."""

    test: str
    statistic: float
    p_value: float | None
    drifted: bool | None


class SortedPair:
    """A numeric feature's reference and current values, each sorted once, shared by every distance."""

    def __init__(
        self,
        reference: Any,
        current: Any,
        reference_std: float | None = None,
        reference_count: int | None = None,
        autocorrelation: tuple[float, float] = (0.0, 0.0),
    ):
        """Args:
        reference: sorted by the caller (the baseline stores it sorted).
        reference_count: how many values the reference stands for, when it is an evenly spaced sample of a
            larger sorted column (its empirical CDF is the full one's to within 1/size).
        autocorrelation: lag-1 autocorrelation of the reference's and the current rows in the order they came;
            p-values count rows that follow each other as less than independent (see `effective_sizes`).
        """
        import numpy as np

        self.reference = np.asarray(reference, dtype="float64")
        self.current = np.sort(np.asarray(current, dtype="float64"))
        self.reference_std = float(np.std(self.reference)) if reference_std is None else float(reference_std)
        self.reference_count = int(reference_count or self.reference.size)
        self.autocorrelation = (float(autocorrelation[0]), float(autocorrelation[1]))
        self._distances: tuple[float, float] | None = None

    def effective_sizes(self) -> tuple[float, float]:
        """Sample sizes for p-values: n (1 - r) / (1 + r) for lag-1 autocorrelation r > 0 (the variance inflation
        of a mean under an AR(1) process; conservative for the CDF gaps KS reads). Days of weather are not
        independent draws: without this, a season compared with the same season of another year "drifts"."""
        factors = [(1 - r) / (1 + r) for r in (min(max(r, 0.0), 0.99) for r in self.autocorrelation)]
        return self.reference_count * factors[0], self.current.size * factors[1]

    def distances(self) -> tuple[float, float]:
        """(KS statistic, Wasserstein-1 distance), exact, from the reference's distinct values placed in the
        sorted current column by binary search: O(reference log current) plus one prefix sum of the current.

        Between two consecutive reference values r_u <= x < r_u+1 the reference CDF is flat (c_u) and the current
        one rises, so the largest CDF gap there sits at an end: KS is the largest of |c_u - F_cur(r_u)| and
        |c_u - F_cur(r_u+1 -)| (the same number scipy's ks_2samp reads at every data point, tested). The
        Wasserstein distance is the integral of |F_ref - F_cur|: on each such interval, F_cur crosses c_u once, at
        the current's c_u-quantile, and the integral of F_cur is read off the prefix sum of the current values.
        """
        if self._distances is None:
            import numpy as np

            reference, current = self.reference, self.current
            n, m = reference.size, current.size
            last = np.append(np.flatnonzero(np.diff(reference) != 0), n - 1)  # last of each run of ties
            r = reference[last]
            below = last + 1  # reference values <= r_u
            f_ref = below / n
            k_right = np.searchsorted(current, r, side="right")
            k_left = np.searchsorted(current, r, side="left")
            ks = max(k_left[0] / m, float(np.abs(f_ref - k_right / m).max()))
            if r.size > 1:
                ks = max(ks, float(np.abs(f_ref[:-1] - k_left[1:] / m).max()))
            shift = float(r[r.size // 2])  # centred sums: less cancellation in k t - prefix[k]
            prefix = np.empty(m + 1)
            prefix[0] = 0.0
            np.cumsum(current - shift, out=prefix[1:])
            centred = r - shift

            def below_integral(t: Any, k: Any) -> Any:  # integral of F_cur from -inf to t, k = #current <= t
                return (k * t - prefix[k]) / m

            at_r = below_integral(centred, k_right)
            wasserstein = float(at_r[0])  # left of r_1, F_ref = 0
            tail = m - k_right[-1]
            wasserstein += float((prefix[m] - prefix[k_right[-1]]) - tail * centred[-1]) / m  # right of r_U
            if r.size > 1:
                a, b, c = centred[:-1], centred[1:], f_ref[:-1]
                first_at_c = -((-below[:-1] * m) // n)  # ceil(c m): the first current value with F_cur >= c
                t = np.clip(current[first_at_c - 1] - shift, a, b)
                at_t = below_integral(t, np.searchsorted(current, t + shift, side="right"))
                wasserstein += float(np.sum(c * (t - a) - (at_t - at_r[:-1]) + (at_r[1:] - at_t) - c * (b - t)))
            self._distances = (ks, wasserstein)
        return self._distances

    def ks_statistic(self) -> float:
        return self.distances()[0]

    def wasserstein(self) -> float:
        return self.distances()[1]

    def normalised_wasserstein(self) -> float:
        distance = self.wasserstein()
        return distance / self.reference_std if self.reference_std > 0 else (0.0 if distance == 0 else float("inf"))

    def bin_shares(self, edges: Any) -> tuple[Any, Any]:
        """Share of reference and current values in the bins between `edges` (open-ended outer bins)."""
        import numpy as np

        inner = np.asarray(edges, dtype="float64")[1:-1]
        shares = []
        for column in (self.reference, self.current):
            cuts = np.concatenate([[0], np.searchsorted(column, inner, side="right"), [column.size]])
            shares.append(np.diff(cuts) / column.size)
        return shares[0], shares[1]


def lag1_autocorrelation(values: Any) -> float:
    """Lag-1 autocorrelation of a column in row order; 0 when it is within the noise of independent rows
    (below 2 / sqrt(n)), for fewer than 3 values, or for a constant column."""
    import numpy as np

    values = values[:SERIAL_ROWS]  # the first rows say it to within 2 / sqrt(SERIAL_ROWS) = 0.006
    if values.size < 3:
        return 0.0
    centred = values - values.mean()
    denominator = float(np.dot(centred, centred))
    if denominator <= 0:
        return 0.0
    r = float(np.dot(centred[1:], centred[:-1]) / denominator)
    return r if r > 2 / values.size**0.5 else 0.0


class DriftTest:
    """A drift test: one method, `score(reference, current=None) -> Score`.

    A numeric test gets one SortedPair (reference and current, each sorted once) as `reference` and no
    `current`; a categorical test gets the reference and current count tables.
    """

    name: ClassVar[str]
    kind: ClassVar[str]  # "numeric" or "categorical"
    uses_p_value: ClassVar[bool]
    default_threshold: ClassVar[float]  # alpha for p-value tests, the distance for the others

    def __init__(self, threshold: float | None = None):
        self.threshold = self.default_threshold if threshold is None else float(threshold)

    def score(self, reference: Any, current: Any = None) -> Score:  # pragma: no cover - the interface
        raise NotImplementedError


class KolmogorovSmirnov(DriftTest):
    """Two-sample KS test (the anchors' default for a small numeric reference)."""

    name, kind, uses_p_value, default_threshold = "ks", "numeric", True, 0.05

    def score(self, reference: SortedPair, current: Any = None) -> Score:

        return Score(self.name, reference.ks_statistic(), ks_p_value(reference), None)


def ks_p_value(pair: SortedPair) -> float:
    """The two-sample KS p-value: scipy's exact one for small independent samples, else the asymptotic Kolmogorov
    distribution at sqrt(n m / (n + m)) D on the effective sizes (scipy.special.kolmogorov).

    The limit is within 2% of scipy's finite-sample kstwo (ks_2samp's method="asymp") at p ~ 0.02 and n m / (n + m)
    >= 2,500, and on the conservative side; scipy.special loads in a third of the time scipy.stats takes.
    """
    n, m = pair.effective_sizes()
    exact = max(pair.autocorrelation) <= 0 and pair.reference_count == pair.reference.size
    if exact and max(pair.reference.size, pair.current.size) <= EXACT_KS_MAX:
        from scipy import stats

        return float(stats.ks_2samp(pair.reference, pair.current).pvalue)
    from scipy.special import kolmogorov

    return float(kolmogorov((n * m / (n + m)) ** 0.5 * pair.ks_statistic()))


class KSDistance(DriftTest):
    """The KS statistic as an effect size (SageMaker Model Monitor's L-infinity distance between CDFs)."""

    name, kind, uses_p_value, default_threshold = "ks_distance", "numeric", False, 0.1

    def score(self, reference: SortedPair, current: Any = None) -> Score:
        statistic = reference.ks_statistic()
        return Score(self.name, statistic, None, statistic >= self.threshold)


class NormalisedWasserstein(DriftTest):
    """Wasserstein-1 distance divided by the reference's standard deviation (the anchors' large-data default)."""

    name, kind, uses_p_value, default_threshold = "wasserstein", "numeric", False, 0.1

    def score(self, reference: SortedPair, current: Any = None) -> Score:
        statistic = reference.normalised_wasserstein()
        return Score(self.name, statistic, None, statistic >= self.threshold)


class PopulationStability(DriftTest):
    """Population stability index over the reference's deciles (0.1 moderate, 0.2 large shift)."""

    name, kind, uses_p_value, default_threshold = "psi", "numeric", False, 0.2

    def __init__(self, threshold: float | None = None, edges: Any = None):
        super().__init__(threshold)
        self.edges = edges

    def score(self, reference: SortedPair, current: Any = None) -> Score:
        import numpy as np
        from scipy.special import rel_entr

        edges = self.edges
        if edges is None:
            edges = np.quantile(reference.reference, np.linspace(0, 1, 11))
        ref, cur = reference.bin_shares(np.unique(edges))
        ref, cur = np.clip(ref, 1e-4, None), np.clip(cur, 1e-4, None)
        statistic = float(np.sum(rel_entr(cur, ref) + rel_entr(ref, cur)))  # = sum((cur-ref) * ln(cur/ref))
        return Score(self.name, statistic, None, statistic >= self.threshold)


class ChiSquare(DriftTest):
    """Chi-square test of the category counts (the anchors' default for a small categorical reference)."""

    name, kind, uses_p_value, default_threshold = "chisquare", "categorical", True, 0.05

    def score(self, reference: dict[str, float], current: dict[str, float] | None = None) -> Score:
        if current is None:
            raise TypeError(f"{self.name} compares two count tables: pass the current counts too")
        import numpy as np
        from scipy import stats

        keys = sorted(set(reference) | set(current))
        table = np.array([[reference.get(k, 0) for k in keys], [current.get(k, 0) for k in keys]], dtype=float)
        table = table[:, table.sum(axis=0) > 0]
        if table.shape[1] < 2:
            return Score(self.name, 0.0, 1.0, None)
        result = stats.chi2_contingency(table)
        return Score(self.name, float(result.statistic), float(result.pvalue), None)


class JensenShannon(DriftTest):
    """Jensen-Shannon distance (natural log) between the category shares (the anchors' large-data default)."""

    name, kind, uses_p_value, default_threshold = "jensenshannon", "categorical", False, 0.1

    def score(self, reference: dict[str, float], current: dict[str, float] | None = None) -> Score:
        if current is None:
            raise TypeError(f"{self.name} compares two count tables: pass the current counts too")
        statistic = jensenshannon_distance(reference, current)
        return Score(self.name, statistic, None, statistic >= self.threshold)


def jensenshannon_distance(reference: dict[str, float], current: dict[str, float]) -> float:
    """scipy's Jensen-Shannon distance of two count tables (also the effect size of a categorical feature)."""
    import numpy as np
    from scipy.spatial.distance import jensenshannon

    keys = sorted(set(reference) | set(current))
    ref = np.array([reference.get(k, 0) for k in keys], dtype=float)
    cur = np.array([current.get(k, 0) for k in keys], dtype=float)
    if ref.sum() == 0 or cur.sum() == 0:
        return 0.0
    return float(jensenshannon(ref, cur))


DRIFT_TESTS: dict[str, type[DriftTest]] = {
    cls.name: cls
    for cls in (KolmogorovSmirnov, KSDistance, NormalisedWasserstein, PopulationStability, ChiSquare, JensenShannon)
}


def pick_test(name: str, kind: str, thresholds: dict[str, float]) -> DriftTest:
    """The test named `name` ("auto": KS for numeric, chi-square for categorical features, at any size).

    The anchors (Evidently) switch to a bare distance above 1,000 reference rows; greenpipe keeps the test and
    asks for an effect as well (gate.apply_correction), which detects a 0.1 sd shift at n = 5,000 where a
    distance threshold of 0.1 catches about half (bench/drift_gate_detection.py).
    """
    if name == "auto":
        name = "ks" if kind == "numeric" else "chisquare"
    cls = DRIFT_TESTS.get(name)
    if cls is None or cls.kind != kind:
        choices = ", ".join(["auto"] + [n for n, c in DRIFT_TESTS.items() if c.kind == kind])
        raise GreenpipeError(f"{kind}_test={name!r} is not a {kind} drift test; use one of {choices}")
    return cls(thresholds.get(name))

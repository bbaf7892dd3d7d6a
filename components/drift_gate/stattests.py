"""Drift tests as small strategy classes, one method each, picked by name (like Optuna's pruners).

Every test compares one feature's reference with its current values and returns a `Score`: the statistic, a
p-value where the test has one, and whether the statistic alone says "drifted" (distance tests). p-value tests
are decided later, after the correction for testing many features (see gate.py).

Numeric features arrive as a `SortedPair`: both columns sorted once, merged once into one pair of empirical
CDFs, and every statistic (KS, Wasserstein, PSI, the plots' histograms) reuses that. The KS and Wasserstein
statistics computed from the merged CDFs are the same numbers scipy.stats.ks_2samp and
scipy.stats.wasserstein_distance give (tests/components/test_drift_gate.py checks it); p-values and the other
measures come from scipy (kstwo, chi2_contingency, jensenshannon, rel_entr).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from greenpipe.errors import GreenpipeError

SMALL_REFERENCE = 1000  # the anchors' cut between "small" (p-value tests) and "large" (distance tests)
EXACT_KS_MAX = 10_000  # below this, scipy's own ks_2samp (exact p-values) is cheap enough


@dataclass(frozen=True)
class Score:
    """One feature's test result. `drifted` is None for p-value tests until the correction is applied."""

    test: str
    statistic: float
    p_value: float | None
    drifted: bool | None


class SortedPair:
    """A numeric feature's reference and current values, each sorted once, merged once for every distance."""

    def __init__(self, reference: Any, current: Any, reference_std: float | None = None):
        import numpy as np

        self.reference = np.asarray(reference, dtype="float64")  # sorted by the caller (the baseline is)
        self.current = np.sort(np.asarray(current, dtype="float64"))
        self.reference_std = float(np.std(self.reference)) if reference_std is None else float(reference_std)
        self._distances: tuple[float, float] | None = None

    def distances(self) -> tuple[float, float]:
        """(KS statistic, Wasserstein-1 distance), from one merge of the two sorted columns.

        The merge is a stable argsort of the two concatenated sorted runs (timsort merges them in linear time);
        cumulative counts of each side's values give both empirical CDFs at every value. The KS statistic is read
        at the last of each group of tied values, as scipy's searchsorted(side="right") does.
        """
        if self._distances is None:
            import numpy as np

            n, m = self.reference.size, self.current.size
            both = np.concatenate([self.reference, self.current])
            order = np.argsort(both, kind="stable")
            values = both[order]
            del both
            from_reference = order < n
            del order
            gap = np.cumsum(from_reference, dtype="float64")  # reference values seen so far
            current_seen = np.arange(1, n + m + 1, dtype="float64") - gap
            gap /= n
            current_seen /= m
            gap -= current_seen  # F_reference - F_current at every value
            del current_seen, from_reference
            np.abs(gap, out=gap)
            last_of_ties = np.empty(values.size, dtype=bool)
            np.not_equal(values[1:], values[:-1], out=last_of_ties[:-1])
            last_of_ties[-1] = True
            ks = float(gap[last_of_ties].max())
            wasserstein = float(np.dot(gap[:-1], np.diff(values)))
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


class DriftTest:
    """A drift test: one method, `score(reference, current) -> Score`."""

    name: ClassVar[str]
    kind: ClassVar[str]  # "numeric" or "categorical"
    uses_p_value: ClassVar[bool]
    default_threshold: ClassVar[float]  # alpha for p-value tests, the distance for the others

    def __init__(self, threshold: float | None = None):
        self.threshold = self.default_threshold if threshold is None else float(threshold)

    def score(self, reference: Any, current: Any) -> Score:  # pragma: no cover - the interface
        raise NotImplementedError


class KolmogorovSmirnov(DriftTest):
    """Two-sample KS test (the anchors' default for a small numeric reference)."""

    name, kind, uses_p_value, default_threshold = "ks", "numeric", True, 0.05

    def score(self, reference: SortedPair, current: Any = None) -> Score:
        from scipy import stats

        pair = reference
        if max(pair.reference.size, pair.current.size) <= EXACT_KS_MAX:
            result = stats.ks_2samp(pair.reference, pair.current)
            return Score(self.name, float(result.statistic), float(result.pvalue), None)
        statistic = pair.ks_statistic()
        n, m = pair.reference.size, pair.current.size
        # scipy.stats.ks_2samp's asymptotic p-value for large samples
        p_value = float(stats.kstwo.sf(statistic, round(n * m / (n + m))))
        return Score(self.name, statistic, p_value, None)


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

    def score(self, reference: dict[str, float], current: dict[str, float]) -> Score:
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

    def score(self, reference: dict[str, float], current: dict[str, float]) -> Score:
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


def pick_test(name: str, kind: str, reference_rows: int, thresholds: dict[str, float]) -> DriftTest:
    """The test named `name` ("auto": the anchors' default for this kind and reference size)."""
    if name == "auto":
        small = reference_rows <= SMALL_REFERENCE
        name = ("ks" if small else "wasserstein") if kind == "numeric" else ("chisquare" if small else "jensenshannon")
    cls = DRIFT_TESTS.get(name)
    if cls is None or cls.kind != kind:
        choices = ", ".join(["auto"] + [n for n, c in DRIFT_TESTS.items() if c.kind == kind])
        raise GreenpipeError(f"{kind}_test={name!r} is not a {kind} drift test; use one of {choices}")
    return cls(thresholds.get(name))

"""The small-sample search: try candidates simple -> complex on growing samples, stop as soon as it is clear."""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from greenpipe.components.small_sample.bounds import curve_bounds
from greenpipe.components.small_sample.candidates import Candidate
from greenpipe.components.small_sample.learning_curve import FULL_DATA, CurveFit, fit_curve, recommended_fraction
from greenpipe.components.small_sample.sampling import NestedSampler
from greenpipe.components.small_sample.scoring import Metric
from greenpipe.ledger import formula_kwh

MIN_POINTS = 3  # a learning curve needs three points before it may decide anything


@dataclass
class Point:
    """One measured training run: a sample, the metric on the holdout, and what it cost."""

    fraction: float
    rows: int
    value: float
    cpu_s: float
    wall_s: float
    energy_kwh: float


@dataclass
class CostLine:
    """cost(rows) = fixed + per_row x rows, least squares with both terms >= 0 over the measured runs."""

    fixed: float
    per_row: float

    def at(self, rows: int) -> float:
        return self.fixed + self.per_row * rows


def fit_cost(rows: list[int], costs: list[float]) -> CostLine:
    from scipy.optimize import nnls

    design = np.column_stack([np.ones(len(rows)), np.asarray(rows, dtype=float)])
    (fixed, per_row), _ = nnls(design, np.asarray(costs, dtype=float))
    return CostLine(float(fixed), float(per_row))


@dataclass
class CandidateResult:
    name: str
    factory: str
    points: list[Point] = field(default_factory=list)
    fit: CurveFit | None = None
    decision: str = "not_run"  # meets | fails | not_run
    reason: str = "not run: a simpler candidate met the threshold"
    cpu_line: CostLine | None = None
    kwh_line: CostLine | None = None

    @property
    def spent_cpu_s(self) -> float:
        return sum(p.cpu_s for p in self.points)

    @property
    def spent_kwh(self) -> float:
        return sum(p.energy_kwh for p in self.points)

    def predicted_full(self, pool_rows: int) -> tuple[float, float] | None:
        """(CPU s, kWh) to train and score this candidate once on all the data, or None if never measured."""
        if self.cpu_line is None or self.kwh_line is None:
            return None
        return self.cpu_line.at(pool_rows), self.kwh_line.at(pool_rows)


@dataclass
class SearchResult:
    candidates: list[CandidateResult]
    chosen: CandidateResult
    met_threshold: bool
    fraction: float
    pool_rows: int
    threshold: float
    tolerance: float
    metric: str
    warning: str | None = None
    full_data: bool = False  # trained on all the rows directly: the data was too small for curves to pay

    @property
    def spent_kwh(self) -> float:
        return sum(c.spent_kwh for c in self.candidates)

    @property
    def spent_cpu_s(self) -> float:
        return sum(c.spent_cpu_s for c in self.candidates)

    def predicted_exhaustive(self) -> tuple[float, float]:
        """(CPU s, kWh) of training every *measured* candidate on all the data; unmeasured ones add nothing."""
        parts = [c.predicted_full(self.pool_rows) for c in self.candidates]
        known = [p for p in parts if p is not None]
        return sum(p[0] for p in known), sum(p[1] for p in known)


def _cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def measure(
    candidate: Candidate, X: Any, y: Any, X_val: Any, y_val: Any, metric: Metric, seed: int, threads: int = 1
) -> Point:
    """Train one candidate on (X, y) and score it on the holdout, metering CPU time, wall time and memory.

    CPU and wall time are read around the fit; memory once after it (the resident set then holds the data and
    the fitted model). No sampling thread: the engine's UsageMeter polls RSS of the process tree every 20 ms,
    which on a busy machine costs more CPU than a small fit, and would be counted against the search.
    BLAS/OpenMP pools are limited to `threads`: on small samples extra threads mostly spin (measured on
    digits, 1,437 rows: histogram gradient boosting took 1.7 CPU s on one thread, 55 CPU s on two busy cores).
    """
    import psutil
    from threadpoolctl import threadpool_limits

    model = candidate.build(seed)  # outside the meter: first-use imports are no per-row training cost
    with threadpool_limits(limits=threads):
        wall0, cpu0 = time.perf_counter(), _cpu_seconds()
        model.fit(X, y)
        value = metric.score(model, X_val, y_val)
        cpu_s, wall_s = max(0.0, _cpu_seconds() - cpu0), time.perf_counter() - wall0
    memory_gb = psutil.Process().memory_info().rss / 2**30
    return Point(0.0, len(X), value, cpu_s, wall_s, formula_kwh(cpu_s, wall_s, memory_gb))


def decide(
    points: list[Point], fit: CurveFit, threshold: float, tolerance: float, last: bool
) -> tuple[str, str] | None:
    """(decision, reason) once the curve settles whether the candidate meets the threshold, else None.

    First the LCCV-style bounds (from three points on): the decision cannot change once the pessimistic bound
    clears the threshold or the optimistic one falls short of it. Then the inverse power law's prediction
    +- its uncertainty (from three points on). A flat curve is no reason to stop while the threshold lies
    within its uncertainty (the prediction can still cross it); at the end of the schedule, the prediction.
    """
    bounds = curve_bounds([p.fraction for p in points], [p.value for p in points], tolerance)
    if bounds is not None and bounds.low >= threshold:
        why = f"lower of the last two samples - {tolerance}"
        return "meets", f"pessimistic bound {bounds.low:.4f} ({why}) >= threshold {threshold}"
    if bounds is not None and bounds.high < threshold:
        why = f"steepest recent slope carried to all rows + {tolerance}"
        return "fails", f"optimistic bound {bounds.high:.4f} ({why}) < threshold {threshold}"
    n = len(points)
    low, high = fit.predicted - fit.uncertainty, fit.predicted + fit.uncertainty
    if n >= MIN_POINTS and low >= threshold:
        return "meets", f"predicted {fit.predicted:.4f} - {fit.uncertainty:.4f} >= threshold {threshold}"
    if n >= MIN_POINTS and high < threshold:
        return "fails", f"predicted {fit.predicted:.4f} + {fit.uncertainty:.4f} < threshold {threshold}"
    if last:
        verdict = "meets" if fit.predicted >= threshold else "fails"
        return verdict, f"largest sample reached: predicted {fit.predicted:.4f} vs threshold {threshold}"
    return None


def can_overtake(result: CandidateResult, leader: float, tolerance: float) -> bool:
    """Could more data lift this candidate's full-data metric above `leader` (the best prediction so far)?"""
    assert result.fit is not None
    bounds = curve_bounds([p.fraction for p in result.points], [p.value for p in result.points], tolerance)
    if bounds is not None and bounds.high < leader:
        return False
    return result.fit.predicted + result.fit.uncertainty >= leader


class _Trainer:
    """Grows one candidate's learning curve along the schedule, one nested sample at a time."""

    def __init__(self, X: Any, y: Any, X_val: Any, y_val: Any, metric: Metric, schedule: list[float], **kw: Any):
        self.X, self.y, self.X_val, self.y_val, self.metric, self.schedule = X, y, X_val, y_val, metric, schedule
        self.sampler = NestedSampler(y, kw["seed"], kw["stratify"])
        self.seed, self.threads, self.log = kw["seed"], kw["threads"], kw["log"]

    def grow(self, candidate: Candidate, result: CandidateResult, stop: Any) -> None:
        """Train on the next samples until `stop(result, last)` returns (decision, reason) or None to go on."""
        for i in range(len(result.points), len(self.schedule)):
            fraction = self.schedule[i]
            rows = self.sampler.rows(fraction)
            point = measure(
                candidate,
                self.X.iloc[rows],
                self.y.iloc[rows],
                self.X_val,
                self.y_val,
                self.metric,
                self.seed,
                self.threads,
            )
            point.fraction = fraction
            result.points.append(point)
            values = [p.value for p in result.points]
            result.fit = fit_curve([p.fraction for p in result.points], values, self.metric.best)
            if self.log is not None:
                self.log(
                    f"{candidate.name} @ {fraction:.3g} ({point.rows} rows): {self.metric.name}={point.value:.4f}, "
                    f"predicted {result.fit.predicted:.4f} +- {result.fit.uncertainty:.4f}"
                )
            verdict = stop(result, i == len(self.schedule) - 1)
            if verdict is not None:
                result.decision, result.reason = verdict
                break
        result.cpu_line = fit_cost([p.rows for p in result.points], [p.cpu_s for p in result.points])
        result.kwh_line = fit_cost([p.rows for p in result.points], [p.energy_kwh for p in result.points])


def run_search(
    X: Any,
    y: Any,
    X_val: Any,
    y_val: Any,
    candidates: list[Candidate],
    metric: Metric,
    threshold: float,
    schedule: list[float],
    tolerance: float,
    seed: int,
    stratify: bool,
    threads: int = 1,
    log: Any = None,
    full_data: bool = False,
) -> SearchResult:
    """Evaluate candidates in order on nested samples of (X, y); choose the simplest that meets `threshold`.

    With `full_data`, each candidate is trained once on all the rows instead (data too small for a learning
    curve to cost less than the fits it replaces): the same rule, decided on measured full-data metrics.
    When no candidate meets the threshold, the best one is returned; a candidate dropped early (it could not
    reach the threshold) keeps growing while it could still overtake the best prediction (LCCV's rule).
    """
    trainer = _Trainer(X, y, X_val, y_val, metric, schedule, seed=seed, stratify=stratify, threads=threads, log=log)
    results = [CandidateResult(c.name, c.factory) for c in candidates]
    chosen: CandidateResult | None = None
    for candidate, result in zip(candidates, results, strict=True):
        if full_data:
            point = measure(candidate, X, y, X_val, y_val, metric, seed, threads)
            point.fraction = 1.0
            result.points.append(point)
            result.fit = CurveFit(FULL_DATA, point.value, 0.0, None, 1.0, point.value)
            meets = point.value >= threshold
            result.decision = "meets" if meets else "fails"
            sign = ">=" if meets else "<"
            result.reason = f"measured on all {point.rows} training rows: {point.value:.4f} {sign} {threshold}"
            if log is not None:
                log(f"{candidate.name} on all {point.rows} rows: {metric.name}={point.value:.4f}")
        else:
            trainer.grow(candidate, result, lambda r, last: decide(r.points, r.fit, threshold, tolerance, last))
        if result.decision == "meets":
            chosen = result
            break
    warning = None
    met = chosen is not None
    if chosen is None:
        if not full_data:
            _grow_contenders(trainer, candidates, results, tolerance)
        ran = [r for r in results if r.fit is not None]
        chosen = max(ran, key=lambda r: r.fit.predicted if r.fit else -math.inf)
        best = chosen.fit.predicted if chosen.fit else -math.inf  # `ran` holds only fitted candidates
        reaches, basis = ("reaches", "measured") if full_data else ("is predicted to reach", "predicted")
        warning = (
            f"no candidate {reaches} {metric.name} >= {threshold}; returning the best, "
            f"{chosen.name} ({basis} {best:.4f}), which does not meet the threshold: "
            "lower the threshold or add stronger candidates"
        )
    assert chosen.fit is not None
    if full_data:
        fraction = 1.0
    else:
        measured = [(p.fraction, p.value) for p in chosen.points]
        fraction = recommended_fraction(chosen.fit, tolerance, measured, schedule[0])
    return SearchResult(
        results, chosen, met, fraction, len(y), threshold, tolerance, metric.name, warning, full_data=full_data
    )


def _grow_contenders(
    trainer: _Trainer, candidates: list[Candidate], results: list[CandidateResult], tolerance: float
) -> None:
    """No candidate meets the threshold: grow each one that could still overtake the best prediction of the
    others (a curve stopped early, on few rows, underrates a learner that needs data) until it cannot."""

    def leader(excluding: CandidateResult) -> float:
        return max(r.fit.predicted for r in results if r.fit is not None and r is not excluding)

    for candidate, result in zip(candidates, results, strict=True):
        if result.fit is None or len(result.points) >= len(trainer.schedule) or len(results) < 2:
            continue
        if not can_overtake(result, leader(result), tolerance):
            continue
        reason = result.reason

        def stop(r: CandidateResult, last: bool, reason: str = reason) -> tuple[str, str] | None:
            if last or not can_overtake(r, leader(r), tolerance):
                return "fails", f"{reason}; grown to {r.points[-1].rows} rows as a contender for the best"
            return None

        trainer.grow(candidate, result, stop)

"""The decision: per-feature drift (on two threads), the correction for many tests, the KPI floor, and why.

Retrain when the share of drifted features reaches `drift_share` or the KPI dropped, but never on a batch that
failed data quality unless `retrain_on_bad_data`. p-value tests must also show an effect of at least
`min_effect` (normalised Wasserstein for numeric features, Jensen-Shannon distance for categorical ones):
on large, seasonal data a significance test alone fires every period.
"""

from __future__ import annotations

import math
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from greenpipe.components.drift_gate.baseline import OTHER, WORKERS, reference_values
from greenpipe.components.drift_gate.batch import Batch, count_nulls, floats
from greenpipe.components.drift_gate.batch import counts as value_counts
from greenpipe.components.drift_gate.quality import QualityResult
from greenpipe.components.drift_gate.stattests import (
    ChiSquare,
    PopulationStability,
    SortedPair,
    jensenshannon_distance,
    ks_p_value,
    lag1_autocorrelation,
    pick_test,
)
from greenpipe.components.drift_gate.suite_check import Outcome, check_column
from greenpipe.errors import GreenpipeError

KPIS = ("accuracy", "roc_auc", "r2")  # the KPIs the gate offers, from the metric registry

CORRECTIONS = ("bonferroni", "bh", "none")


@dataclass(frozen=True)
class DriftSettings:
    numeric_test: str = "auto"
    categorical_test: str = "auto"
    thresholds: dict[str, float] | None = None
    correction: str = "bonferroni"
    min_effect: float = 0.05
    drift_share: float = 0.5
    importance: dict[str, float] | None = None

    def __post_init__(self) -> None:
        if self.correction not in CORRECTIONS:
            raise GreenpipeError(f"correction={self.correction!r} is not one of {', '.join(CORRECTIONS)}")
        if not 0 < self.drift_share <= 1:
            raise GreenpipeError(
                f"drift_share={self.drift_share!r} must be in (0, 1]: the (importance-weighted) share of drifted "
                "features that makes the dataset drifted (0.5 by default)"
            )
        if self.importance is not None and any(
            not isinstance(v, (int, float)) or v < 0 for v in self.importance.values()
        ):
            raise GreenpipeError(
                "importance must map feature names to non-negative numbers (e.g. the model's feature_importances_)"
            )


def start_feature_checks(
    folder: str,
    document: dict[str, Any],
    batch: Batch,
    settings: DriftSettings,
    skip: dict[str, str],
    expectations: dict[str | None, list[dict]],
) -> tuple[ThreadPoolExecutor, dict[str, Future]]:
    """Start one check per feature (drift and its data-quality expectations) on a two-thread pool."""
    pool = ThreadPoolExecutor(WORKERS)
    futures = {
        column: pool.submit(
            _feature_row, folder, document, batch, column, settings, skip.get(column), expectations.get(column, [])
        )
        for column in document["columns"]
    }
    return pool, futures


def _feature_row(
    folder: str,
    document: dict[str, Any],
    batch: Batch,
    column: str,
    settings: DriftSettings,
    skipped: str | None,
    expectations: list[dict],
) -> tuple[dict[str, Any], list[Outcome]]:
    entry = document["columns"][column]
    row: dict[str, Any] = {
        "feature": column,
        "kind": entry["kind"],
        "test": None,
        "statistic": None,
        "p_value": None,
        "p_adjusted": None,
        "effect": None,
        "drifted": False,
        "compared": False,
        "note": skipped,
    }
    if skipped:
        return row, []
    thresholds = settings.thresholds or {}
    chunked = batch.read(column)
    nulls = count_nulls(chunked)
    dtype_name = batch.dtype_name(column, nulls)
    if entry["kind"] == "numeric" and batch.family(column) == "number":
        current = floats(chunked)
        del chunked
        autocorrelation = lag1_autocorrelation(current)
        pair = SortedPair(
            reference_values(folder, document, column),
            current,
            reference_std=entry.get("std"),
            reference_count=entry["count"],
            autocorrelation=(entry.get("autocorrelation", 0.0), autocorrelation),
        )
        del current
        outcomes = check_column(expectations, column, batch.rows, nulls, dtype_name, ordered=pair.current)
        if pair.current.size == 0 or entry["count"] == 0:
            row["note"] = "no non-null values to compare"
            return row, outcomes
        test = pick_test(settings.numeric_test, "numeric", thresholds)
        if isinstance(test, PopulationStability):
            test.edges = entry["quantiles"][::10]  # the reference's deciles, from the baseline
        score = test.score(pair)
        p_value = score.p_value if test.uses_p_value else ks_p_value(pair)
        row["effect"] = pair.normalised_wasserstein()
        positions = np.round(np.linspace(0, 1, len(entry["quantiles"])) * (pair.current.size - 1)).astype(int)
        row["plot"] = {"reference": entry["quantiles"], "current": pair.current[positions].tolist()}
        row["autocorrelation"] = max(pair.autocorrelation)
    else:
        counts = value_counts(chunked)
        outcomes = check_column(expectations, column, batch.rows, nulls, dtype_name, counts=counts)
        reference = entry.get("categories") or {}
        current_counts = _pool(counts, list(reference))
        if not current_counts or not reference:
            row["note"] = "no non-null values to compare"
            return row, outcomes
        test = pick_test(settings.categorical_test, "categorical", thresholds)
        score = test.score(reference, current_counts)
        p_value = score.p_value if test.uses_p_value else ChiSquare().score(reference, current_counts).p_value
        row["effect"] = jensenshannon_distance(reference, current_counts)
        row["plot"] = {
            "categories": list(reference) + [k for k in current_counts if k not in reference],
            "reference": reference,
            "current": current_counts,
        }
    row.update(
        test=score.test,
        statistic=score.statistic,
        p_value=p_value,
        compared=True,
        threshold=test.threshold,
        uses_p_value=test.uses_p_value,
        drifted=bool(score.drifted),
    )
    return row, outcomes


def _pool(counts: dict[str, float], keep: list[str]) -> dict[str, float]:
    """Counts outside the reference's categories pool in __other__ (as baseline.category_counts does)."""
    out = {k: v for k, v in counts.items() if k in keep}
    rest = sum(v for k, v in counts.items() if k not in keep)
    if rest:
        out[OTHER] = out.get(OTHER, 0.0) + rest
    return out


def apply_correction(rows: list[dict[str, Any]], settings: DriftSettings) -> None:
    """Adjust every compared feature's p-value for testing many features; decide the p-value tests: adjusted p
    below alpha and an effect of at least min_effect (distance tests keep their own verdict)."""
    tested = [r for r in rows if r["compared"] and r.get("p_value") is not None]
    if not tested:
        return
    p_values = [r["p_value"] for r in tested]
    if settings.correction == "bonferroni":
        adjusted = [min(1.0, p * len(p_values)) for p in p_values]
    elif settings.correction == "bh":
        from scipy import stats

        adjusted = list(stats.false_discovery_control(p_values, method="bh"))
    else:
        adjusted = p_values
    for row, p_adj in zip(tested, adjusted, strict=True):
        row["p_adjusted"] = float(p_adj)
        if row.get("uses_p_value"):
            row["drifted"] = bool(p_adj < row["threshold"] and row["effect"] >= settings.min_effect)


def weights(rows: list[dict[str, Any]], importance: dict[str, float] | None) -> dict[str, float]:
    """Each compared feature's weight in the drift share: its importance, or 1 each when none is known."""
    compared = [r["feature"] for r in rows if r["compared"]]
    if not importance or not any(importance.get(f, 0) > 0 for f in compared):
        return {f: 1.0 for f in compared}
    return {f: float(importance.get(f, 0.0)) for f in compared}


def measure_kpi(model_path: str, frame: Any, target: str, kpi: str) -> float:
    """The model's KPI on the labelled batch (accuracy, roc_auc or r2)."""
    from greenpipe.components.contracts.metrics import metric
    from greenpipe.components.contracts.model_folder import load_model, read_description

    scorer = metric(kpi, field="kpi", allowed=KPIS, computed_by="drift_gate")
    described = read_description(model_path)
    estimator = load_model(model_path)  # an input artifact the runner verified against its digest
    features = described.features if described is not None else []
    x = frame[features] if features else frame.drop(columns=[target])
    return scorer.score(estimator, x, frame[target])


def decide(
    rows: list[dict[str, Any]],
    quality: QualityResult,
    settings: DriftSettings,
    kpi: dict[str, Any],
    retrain_on_bad_data: bool,
    schedule: dict[str, Any] | None = None,
    cusum: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The decision document: retrain yes/no, its reason in one sentence, the reasons, the per-feature table
    (sorted by importance, then effect).

    With a `schedule` (cadence.schedule_status), the cadence and the KPI decide and drift is reported only: no
    drift rule with settings fixed in advance beat a calendar (bench/drift_gate_calendar.py). A `cusum`
    (kpi_cusum.cusum_status over the model's KPI history) alarm retrains either way."""
    weight = weights(rows, settings.importance)
    compared = [r for r in rows if r["compared"]]
    drifted = [r["feature"] for r in compared if r["drifted"]]
    total = sum(weight.values())
    share = sum(weight[f] for f in drifted) / total if total else 0.0
    dataset_drift = bool(compared) and share >= settings.drift_share
    weighted = "importance-weighted share" if settings.importance else "share"
    drift_words = f"{len(drifted)} of {len(compared)} features drifted, {weighted} {share:.2f}"
    reasons: list[str] = []
    if dataset_drift:
        reasons.append(f"dataset drift: {drift_words} >= {settings.drift_share:.2f}: {', '.join(drifted)}")
    elif compared:
        reasons.append(f"no dataset drift: {drift_words} < {settings.drift_share:.2f}")
    if kpi.get("drop"):
        reasons.append(kpi["reason"])
    elif kpi.get("value") is not None:
        reasons.append(f"KPI {kpi['name']} = {kpi['value']:.4f}, within its floor")
    alarm = bool(cusum and cusum["alarm"])
    if cusum is not None:
        reasons.insert(0, cusum["reason"])
    if schedule is not None:
        reasons.insert(0, ("scheduled: " if schedule["due"] else "not due: ") + schedule["reason"])
        wants = bool(schedule["due"]) or bool(kpi.get("drop")) or alarm
    else:
        wants = dataset_drift or bool(kpi.get("drop")) or alarm
    retrain = wants and (quality.ok or retrain_on_bad_data)
    if not quality.ok:
        reasons.insert(0, "data quality failed: " + "; ".join(quality.failures))
        if wants and not retrain:
            reasons.append(
                "not retraining on a batch that failed data quality (set retrain_on_bad_data=true to retrain anyway)"
            )
    why = [kpi["reason"]] if kpi.get("drop") else []
    if cusum is not None and (alarm or not retrain):
        why.insert(0, cusum["summary"])
    if schedule is not None:
        why.insert(0, schedule["reason"].split(" (")[0])
    why.append(drift_words + (f" (>= {settings.drift_share:.2f})" if dataset_drift else ""))
    if not quality.ok:
        why.insert(0, f"data quality failed ({len(quality.failures)} checks)")
    summary = ("retrain: " if retrain else "no retrain: ") + "; ".join(why)
    order = sorted(rows, key=lambda r: (-weight.get(r["feature"], 0.0), -_number(r.get("effect"))))
    table = [{k: v for k, v in r.items() if k not in ("plot", "uses_p_value")} for r in order]
    for r in table:
        r["importance"] = weight.get(r["feature"])
        for key in ("statistic", "p_value", "p_adjusted", "effect"):
            if isinstance(r.get(key), float) and not math.isfinite(r[key]):
                r[key] = str(r[key])
    return {
        "retrain": bool(retrain),
        "summary": summary,
        "reasons": reasons,
        "quality": {"ok": quality.ok, "failures": quality.failures, "expectations_evaluated": quality.evaluated},
        "drift": {
            "share": share,
            "threshold": settings.drift_share,
            "dataset_drift": dataset_drift,
            "drifted": drifted,
            "correction": settings.correction,
            "min_effect": settings.min_effect,
            "features": table,
        },
        "kpi": kpi,
        "kpi_cusum": cusum,
        "schedule": schedule,
    }


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else 0.0


def kpi_status(
    value: float | None, name: str, floor: float, reference: float | None, max_drop: float
) -> dict[str, Any]:
    """Whether a measured KPI fell below the floor or dropped more than `max_drop` under the reference."""
    out: dict[str, Any] = {
        "name": name,
        "value": value,
        "floor": floor,
        "reference": reference,
        "max_drop": max_drop,
        "drop": False,
        "reason": None,
    }
    if value is None:
        return out
    if floor > 0 and value < floor:
        out.update(drop=True, reason=f"KPI {name} = {value:.4f} is below the floor {floor:.4f}")
    elif reference is not None and value < reference - max_drop:
        out.update(
            drop=True,
            reason=f"KPI {name} = {value:.4f} dropped more than {max_drop:.4f} under the reference {reference:.4f}",
        )
    return out

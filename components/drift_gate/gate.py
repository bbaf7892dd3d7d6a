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

from greenpipe.components.drift_gate.baseline import WORKERS, category_counts, reference_values
from greenpipe.components.drift_gate.quality import QualityResult
from greenpipe.components.drift_gate.stattests import (
    PopulationStability,
    SortedPair,
    jensenshannon_distance,
    pick_test,
)

from greenpipe.errors import GreenpipeError

CORRECTIONS = ("bonferroni", "bh", "none")


@dataclass(frozen=True)
class DriftSettings:
    numeric_test: str = "auto"
    categorical_test: str = "auto"
    thresholds: dict[str, float] | None = None
    correction: str = "bonferroni"
    min_effect: float = 0.1
    drift_share: float = 0.5

    def __post_init__(self) -> None:
        if self.correction not in CORRECTIONS:
            raise GreenpipeError(f"correction={self.correction!r} is not one of {', '.join(CORRECTIONS)}")
        if not 0 < self.drift_share <= 1:
            raise GreenpipeError(
                f"drift_share={self.drift_share!r} must be in (0, 1]: the share of drifted "
                "features that makes the dataset drifted (0.5 by default)"
            )


def start_feature_checks(
    folder: str, document: dict[str, Any], frame: Any, settings: DriftSettings, skip: dict[str, str]
) -> tuple[ThreadPoolExecutor, dict[str, Future]]:
    """Start one drift check per feature on a two-thread pool; the caller validates quality meanwhile."""
    pool = ThreadPoolExecutor(WORKERS)
    futures = {
        column: pool.submit(_feature_row, folder, document, frame, column, settings, skip.get(column))
        for column in document["columns"]
    }
    return pool, futures


def _feature_row(
    folder: str, document: dict[str, Any], frame: Any, column: str, settings: DriftSettings, skipped: str | None
) -> dict[str, Any]:
    import numpy as np

    entry = document["columns"][column]
    row: dict[str, Any] = {
        "feature": column,
        "kind": entry["kind"],
        "test": None,
        "statistic": None,
        "p_value": None,
        "effect": None,
        "drifted": False,
        "compared": False,
        "note": skipped,
    }
    if skipped:
        return row
    series = frame[column]
    thresholds = settings.thresholds or {}
    if entry["kind"] == "numeric":
        current = series.to_numpy(dtype="float64", na_value=np.nan)
        current = current[~np.isnan(current)]
        if current.size == 0 or entry["count"] == 0:
            row["note"] = "no non-null values to compare"
            return row
        pair = SortedPair(reference_values(folder, document, column), current, reference_std=entry["std"])
        test = pick_test(settings.numeric_test, "numeric", entry["count"], thresholds)
        if isinstance(test, PopulationStability):
            test.edges = entry["quantiles"][::10]  # the reference's deciles, from the baseline
        score = test.score(pair)
        row["effect"] = pair.normalised_wasserstein()
        edges = entry["histogram"]["edges"]
        ref_share, cur_share = pair.bin_shares(edges)
        row["plot"] = {"edges": edges, "reference": ref_share.tolist(), "current": cur_share.tolist()}
    else:
        reference = entry["categories"]
        current_counts = category_counts(series, keep=list(reference))
        if not current_counts:
            row["note"] = "no non-null values to compare"
            return row
        test = pick_test(settings.categorical_test, "categorical", entry["count"], thresholds)
        score = test.score(reference, current_counts)
        row["effect"] = jensenshannon_distance(reference, current_counts)
        row["plot"] = {
            "categories": list(reference) + [k for k in current_counts if k not in reference],
            "reference": reference,
            "current": current_counts,
        }
    row.update(
        test=score.test,
        statistic=score.statistic,
        p_value=score.p_value,
        compared=True,
        threshold=test.threshold,
        uses_p_value=test.uses_p_value,
        drifted=bool(score.drifted),
    )
    return row


def apply_correction(rows: list[dict[str, Any]], settings: DriftSettings) -> None:
    """Decide the p-value tests: corrected p below alpha and an effect of at least min_effect."""
    from scipy import stats

    tested = [r for r in rows if r["compared"] and r.get("uses_p_value")]
    if not tested:
        return
    p_values = [r["p_value"] for r in tested]
    if settings.correction == "bonferroni":
        adjusted = [min(1.0, p * len(p_values)) for p in p_values]
    elif settings.correction == "bh":
        adjusted = list(stats.false_discovery_control(p_values, method="bh"))
    else:
        adjusted = p_values
    for row, p_adj in zip(tested, adjusted, strict=True):
        row["p_adjusted"] = float(p_adj)
        row["drifted"] = bool(p_adj < row["threshold"] and row["effect"] >= settings.min_effect)


def measure_kpi(model_path: str, frame: Any, target: str, kpi: str) -> float:
    """The model's KPI on the labelled batch (accuracy, roc_auc or r2)."""
    import json
    import pickle
    from pathlib import Path

    from sklearn import metrics

    scorers = {"accuracy": metrics.accuracy_score, "roc_auc": metrics.roc_auc_score, "r2": metrics.r2_score}
    if kpi not in scorers:
        raise GreenpipeError(f"kpi={kpi!r} is not one of {', '.join(scorers)}")
    path = Path(model_path)
    pkl = path / "model.pkl" if path.is_dir() else path
    features = None
    if path.is_dir() and (path / "model.json").is_file():
        features = json.loads((path / "model.json").read_text(encoding="utf-8")).get("features")
    with open(pkl, "rb") as handle:
        estimator = pickle.load(handle)  # an input artifact the runner verified against its digest
    x = frame[features] if features else frame.drop(columns=[target])
    y = frame[target]
    if kpi == "roc_auc":
        return float(scorers[kpi](y, estimator.predict_proba(x)[:, 1]))
    return float(scorers[kpi](y, estimator.predict(x)))


def decide(
    rows: list[dict[str, Any]],
    quality: QualityResult,
    settings: DriftSettings,
    kpi: dict[str, Any],
    retrain_on_bad_data: bool,
) -> dict[str, Any]:
    """The decision document: retrain yes/no, the reasons, and the per-feature table."""
    compared = [r for r in rows if r["compared"]]
    drifted = [r["feature"] for r in compared if r["drifted"]]
    share = len(drifted) / len(compared) if compared else 0.0
    dataset_drift = bool(compared) and share >= settings.drift_share
    reasons: list[str] = []
    if dataset_drift:
        reasons.append(
            f"dataset drift: {len(drifted)} of {len(compared)} features drifted ({share:.0%} >= "
            f"{settings.drift_share:.0%}): {', '.join(drifted)}"
        )
    elif compared:
        reasons.append(
            f"no dataset drift: {len(drifted)} of {len(compared)} features drifted ({share:.0%} < "
            f"{settings.drift_share:.0%})"
        )
    if kpi.get("drop"):
        reasons.append(kpi["reason"])
    elif kpi.get("value") is not None:
        reasons.append(f"KPI {kpi['name']} = {kpi['value']:.4f}, within its floor")
    wants = dataset_drift or bool(kpi.get("drop"))
    retrain = wants and (quality.ok or retrain_on_bad_data)
    if not quality.ok:
        reasons.insert(0, "data quality failed: " + "; ".join(quality.failures))
        if wants and not retrain:
            reasons.append(
                "not retraining on a batch that failed data quality (set retrain_on_bad_data=true to retrain anyway)"
            )
    table = [{k: v for k, v in r.items() if k != "plot"} for r in rows]
    for r in table:
        for key in ("statistic", "p_value", "p_adjusted", "effect"):
            if isinstance(r.get(key), float) and not math.isfinite(r[key]):
                r[key] = str(r[key])
    return {
        "retrain": bool(retrain),
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
    }


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

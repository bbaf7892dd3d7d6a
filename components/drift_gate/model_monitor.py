"""SageMaker Model Monitor's baseline files, read and written, so teams leaving Model Monitor keep their baseline.

statistics.json: {"version": 0.0, "dataset": {"item_count": N}, "features": [{"name", "inferred_type"
(Integral | Fractional | String | Unknown), "numerical_statistics": {"common": {"num_present", "num_missing"},
"mean", "sum", "std_dev", "min", "max", "distribution": {"kll": {"buckets": [{"lower_bound", "upper_bound",
"count"}], "sketch": {"parameters": {"c", "k"}, "data": [[...]]}}}}} or "string_statistics": {"common",
"distinct_count", "distribution": {"categorical": {"buckets": [{"value", "count"}]}}}]}

constraints.json: {"version": 0.0, "features": [{"name", "inferred_type", "completeness", "num_constraints":
{"is_non_negative"}, "string_constraints": {"domains": [...]}}], "monitoring_config": {"distribution_constraints":
{"perform_comparison", "comparison_threshold", "comparison_method"}, ...}}

Model Monitor compares distributions by the largest distance between the two CDFs, which is the KS statistic:
an imported baseline therefore gates with the `ks_distance` test at Model Monitor's `comparison_threshold`.
Without the raw values, a numeric reference is rebuilt from the KLL sketch (or the bucket midpoints).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from greenpipe.components.drift_gate.baseline import FORMAT, HISTOGRAM_BINS, QUANTILES
from greenpipe.errors import GreenpipeError

TYPES_IN = {"Integral": "int64", "Fractional": "float64", "String": "str", "Unknown": "object"}


def baseline_from_model_monitor(
    statistics: dict[str, Any], constraints: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Any], dict[str, float]]:
    """(baseline document, {column: sorted pseudo-reference}, drift thresholds) from Model Monitor's files."""
    import numpy as np

    if "features" not in statistics:
        raise GreenpipeError("statistics.json has no 'features' list; pass Model Monitor's statistics.json")
    limits = {f["name"]: f for f in (constraints or {}).get("features", [])}
    document: dict[str, Any] = {
        "format": FORMAT,
        "rows": int(statistics.get("dataset", {}).get("item_count", 0)),
        "target": None,
        "columns": {},
        "reference": "reference.npz",
        "source": "sagemaker-model-monitor",
    }
    reference: dict[str, Any] = {}
    for feature in statistics["features"]:
        name, kind = feature["name"], feature.get("inferred_type", "Unknown")
        if "numerical_statistics" in feature:
            stats = feature["numerical_statistics"]
            values = np.sort(_kll_values(stats.get("distribution", {}).get("kll", {})))
            entry: dict[str, Any] = {
                "kind": "numeric",
                "dtype": TYPES_IN.get(kind, "float64"),
                "family": "number",
                "count": int(stats["common"]["num_present"]),
                "missing": int(stats["common"]["num_missing"]),
                "mean": float(stats["mean"]),
                "std": float(stats["std_dev"]),
                "min": float(stats["min"]),
                "max": float(stats["max"]),
                "sum": float(stats.get("sum", 0.0)),
            }
            if values.size:
                positions = np.round(np.linspace(0, 1, QUANTILES) * (values.size - 1)).astype(int)
                entry["quantiles"] = [float(v) for v in values[positions]]
                edges = np.linspace(entry["min"], entry["max"], HISTOGRAM_BINS + 1)
                counts = np.histogram(values, bins=edges)[0]
                entry["histogram"] = {"edges": edges.tolist(), "counts": counts.tolist()}
                entry["reference_key"] = f"c{len(reference)}"
                reference[entry["reference_key"]] = values
        elif "string_statistics" in feature:
            stats = feature["string_statistics"]
            buckets = stats.get("distribution", {}).get("categorical", {}).get("buckets", [])
            entry = {
                "kind": "categorical",
                "dtype": "str",
                "family": "string",
                "count": int(stats["common"]["num_present"]),
                "missing": int(stats["common"]["num_missing"]),
                "distinct": int(stats.get("distinct_count", len(buckets))),
                "categories": {str(b["value"]): float(b["count"]) for b in buckets},
            }
        else:
            raise GreenpipeError(
                f"statistics.json feature {name!r} has neither numerical_statistics nor string_statistics"
            )
        limit = limits.get(name, {})
        if "completeness" in limit:
            entry["completeness"] = float(limit["completeness"])
        if limit.get("num_constraints", {}).get("is_non_negative"):
            entry["non_negative"] = True
        if "domains" in limit.get("string_constraints", {}):
            entry["categories"] = {
                d: entry.get("categories", {}).get(d, 0.0) for d in limit["string_constraints"]["domains"]
            }
        document["columns"][name] = entry
    comparison = (constraints or {}).get("monitoring_config", {}).get("distribution_constraints", {})
    thresholds = {"ks_distance": float(comparison.get("comparison_threshold", 0.1))}
    return document, reference, thresholds


def model_monitor_files(
    document: dict[str, Any], reference_of: Any = None, comparison_threshold: float = 0.1
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(statistics.json, constraints.json) documents for a drift baseline.

    `reference_of(column)` returns a numeric column's sorted values for the KLL-style sketch (else its quantiles).
    """
    import numpy as np

    features, limits = [], []
    for name, entry in document["columns"].items():
        common = {"num_present": entry["count"], "num_missing": entry["missing"]}
        total = entry["count"] + entry["missing"]
        limit: dict[str, Any] = {"name": name, "completeness": entry["count"] / total if total else 1.0}
        if entry["kind"] == "numeric" and "mean" in entry:
            inferred = "Integral" if entry["dtype"].lower().startswith(("int", "uint")) else "Fractional"
            values = reference_of(name) if reference_of else np.asarray(entry["quantiles"])
            sketch = values[np.round(np.linspace(0, 1, min(values.size, 2048)) * (values.size - 1)).astype(int)]
            edges, counts = entry["histogram"]["edges"], entry["histogram"]["counts"]
            buckets = [
                {"lower_bound": edges[i], "upper_bound": edges[i + 1], "count": float(counts[i])}
                for i in range(len(counts))
            ]
            features.append(
                {
                    "name": name,
                    "inferred_type": inferred,
                    "numerical_statistics": {
                        "common": common,
                        "mean": entry["mean"],
                        "sum": entry["sum"],
                        "std_dev": entry["std"],
                        "min": entry["min"],
                        "max": entry["max"],
                        "distribution": {
                            "kll": {
                                "buckets": buckets,
                                "sketch": {
                                    "parameters": {"c": 0.64, "k": 2048.0},
                                    "data": [[float(v) for v in sketch]],
                                },
                            }
                        },
                    },
                }
            )
            limit["inferred_type"] = inferred
            limit["num_constraints"] = {"is_non_negative": bool(entry["min"] >= 0)}
        else:
            cats = {k: v for k, v in entry.get("categories", {}).items() if k != "__other__"}
            features.append(
                {
                    "name": name,
                    "inferred_type": "String",
                    "string_statistics": {
                        "common": common,
                        "distinct_count": float(entry.get("distinct", len(cats))),
                        "distribution": {
                            "categorical": {"buckets": [{"value": k, "count": v} for k, v in cats.items()]}
                        },
                    },
                }
            )
            limit["inferred_type"] = "String"
            limit["string_constraints"] = {"domains": sorted(cats)}
        limits.append(limit)
    statistics = {"version": 0.0, "dataset": {"item_count": document["rows"]}, "features": features}
    constraints = {
        "version": 0.0,
        "features": limits,
        "monitoring_config": {
            "evaluate_constraints": "Enabled",
            "emit_metrics": "Enabled",
            "datatype_check_threshold": 0.1,
            "domain_content_threshold": 0.1,
            "distribution_constraints": {
                "perform_comparison": "Enabled",
                "comparison_threshold": comparison_threshold,
                "comparison_method": "Robust",
            },
        },
    }
    return statistics, constraints


def read_model_monitor_folder(folder: str | Path) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """statistics.json (required) and constraints.json (optional) from a folder."""
    path = Path(folder)
    if not (path / "statistics.json").is_file():
        raise GreenpipeError(
            f"{str(folder)!r} has no statistics.json; pass the folder of Model Monitor's "
            "baselining job output (statistics.json and constraints.json)"
        )
    statistics = json.loads((path / "statistics.json").read_text(encoding="utf-8"))
    constraints = None
    if (path / "constraints.json").is_file():
        constraints = json.loads((path / "constraints.json").read_text(encoding="utf-8"))
    return statistics, constraints


def _kll_values(kll: dict[str, Any]) -> Any:
    """Representative values of a KLL distribution: the sketch's items, else bucket midpoints repeated."""
    import numpy as np

    data = kll.get("sketch", {}).get("data") or []
    items = [v for level in data for v in level]
    if items:
        return np.asarray(items, dtype="float64")
    buckets = kll.get("buckets", [])
    mids = [(b["lower_bound"] + b["upper_bound"]) / 2 for b in buckets]
    counts = np.asarray([b["count"] for b in buckets], dtype="float64")
    if not mids or counts.sum() == 0:
        return np.asarray([], dtype="float64")
    reps = np.maximum(1, np.round(counts / counts.sum() * 1000)).astype(int)
    return np.repeat(np.asarray(mids, dtype="float64"), reps)

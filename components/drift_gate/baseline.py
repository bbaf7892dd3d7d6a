"""The drift baseline: what the training data looked like, column by column, kept as a folder.

    baseline.json      format, rows, target, and per column: kind, dtype, missing, statistics, 101 quantiles,
                       a 20-bin histogram (numeric) or the category counts (categorical)
    expectations.json  the great_expectations suite of data-quality expectations (see quality.py)
    reference.npz      each numeric column's non-null values, sorted; above max_reference_rows, the values at that many
                       evenly spaced ranks (a quantile sketch: its empirical CDF is within 1 / max_reference_rows of
                       the full column's, so KS and Wasserstein read from it are too; p-values use the full count)

Each numeric column is sorted once; every statistic, the quantiles and the histogram are read off that sort.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from greenpipe.artifacts import write_atomic, write_text_atomic
from greenpipe.errors import GreenpipeError

FORMAT = "greenpipe.drift_baseline/1"
QUANTILES = 101
HISTOGRAM_BINS = 20
MAX_CATEGORIES = 100
LOW_CARDINALITY = 5  # a numeric column with this few distinct values is tested as categorical (as the anchors do)
OTHER = "__other__"
WORKERS = 2  # the machines this runs on have two cores; numpy releases the GIL while it sorts and searches


def column_kind(series: Any) -> str:
    """'numeric' or 'categorical'."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
        return "categorical"
    return "categorical" if series.nunique(dropna=True) <= LOW_CARDINALITY else "numeric"


def dtype_family(series: Any) -> str:
    """'number', 'bool' or 'string': a batch whose column changes family has a changed dtype."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(series):
        return "bool"
    return "number" if pd.api.types.is_numeric_dtype(series) else "string"


def category_counts(series: Any, keep: list[str] | None = None) -> dict[str, float]:
    """Counts of each category (as strings); beyond MAX_CATEGORIES (or outside `keep`) they pool in __other__."""
    counts = series.dropna().astype(str).value_counts()
    if keep is None:
        top, rest = counts.iloc[:MAX_CATEGORIES], counts.iloc[MAX_CATEGORIES:]
    else:
        mask = counts.index.isin(keep)
        top, rest = counts[mask], counts[~mask]
    out = {str(k): float(v) for k, v in top.items()}
    if len(rest):
        out[OTHER] = out.get(OTHER, 0.0) + float(rest.sum())
    return out


def numeric_profile(values: Any) -> tuple[dict[str, Any], Any]:
    """Statistics, quantiles and histogram of one numeric column, from a single sort. Returns (profile, sorted)."""
    import numpy as np

    from greenpipe.components.drift_gate.stattests import lag1_autocorrelation

    raw = np.asarray(values, dtype="float64")
    present = raw[~np.isnan(raw)]
    ordered = np.sort(present)
    profile: dict[str, Any] = {"count": int(ordered.size), "missing": int(raw.size - ordered.size)}
    if ordered.size == 0:
        return profile, ordered
    positions = np.round(np.linspace(0, 1, QUANTILES) * (ordered.size - 1)).astype(int)
    low, high = float(ordered[0]), float(ordered[-1])
    edges = np.linspace(low, high, HISTOGRAM_BINS + 1) if high > low else np.array([low, high])
    cuts = np.searchsorted(ordered, edges[1:-1], side="left")
    counts = np.diff(np.concatenate([[0], cuts, [ordered.size]]))
    profile.update(
        mean=float(ordered.mean()),
        std=float(ordered.std()),
        min=low,
        max=high,
        sum=float(ordered.sum()),
        autocorrelation=lag1_autocorrelation(present),  # rows in the order they came (days of weather follow days)
        quantiles=[float(v) for v in ordered[positions]],
        histogram={"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]},
    )
    return profile, ordered


def profile_frame(
    frame: Any, target: str = "", max_reference_rows: int = 100_000, seed: int = 0
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Profile every column except the target. Returns (baseline document, {column: sorted reference values})."""
    import numpy as np

    if frame.empty or len(frame.columns) == 0:
        raise GreenpipeError("drift_baseline: the training data has no rows or no columns; pass the training set")
    columns = [c for c in frame.columns if c != target]
    kinds = {c: column_kind(frame[c]) for c in columns}

    def one(name: str) -> tuple[str, dict[str, Any], Any]:
        series = frame[name]
        entry: dict[str, Any] = {"kind": kinds[name], "dtype": str(series.dtype), "family": dtype_family(series)}
        if kinds[name] == "numeric":
            profile, ordered = numeric_profile(series.to_numpy(dtype="float64", na_value=np.nan))
            entry.update(profile)
            if ordered.size > max_reference_rows:  # an evenly spaced sample of a sorted column stays sorted
                ordered = ordered[np.round(np.linspace(0, ordered.size - 1, max_reference_rows)).astype(int)]
            return name, entry, ordered
        entry.update(count=int(series.notna().sum()), missing=int(series.isna().sum()))
        entry["categories"] = category_counts(series)
        entry["distinct"] = int(series.nunique(dropna=True))
        if dtype_family(series) == "number":
            entry.update(min=float(series.min()), max=float(series.max()))
        return name, entry, None

    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(one, columns))
    document: dict[str, Any] = {
        "format": FORMAT,
        "rows": int(len(frame)),
        "target": target or None,
        "columns": {},
        "reference": "reference.npz",
        "seed": seed,
    }
    reference: dict[str, Any] = {}
    for name, entry, ordered in results:
        document["columns"][name] = entry
        if ordered is not None:
            entry["reference_key"] = f"c{len(reference)}"
            reference[entry["reference_key"]] = ordered
    return document, reference


def write_baseline(
    folder: str | os.PathLike[str], document: dict[str, Any], reference: dict[str, Any], suite: dict[str, Any] | None
) -> None:
    """Write the baseline folder; every file through a temp file and a rename."""
    import numpy as np

    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    if reference:
        write_atomic(target / "reference.npz", lambda tmp: np.savez(tmp, **reference))
    else:
        document = {**document, "reference": None}
    if suite is not None:
        _write_json(target / "expectations.json", suite)
    _write_json(target / "baseline.json", document)


def read_baseline(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The baseline document; raises a GreenpipeError naming the folder when it is not a drift baseline."""
    path = Path(folder) / "baseline.json"
    if not path.is_file():
        raise GreenpipeError(
            f"baseline={str(folder)!r} has no baseline.json; pass the `baseline` output of "
            "drift_baseline (or a folder made by baseline_from_model_monitor)"
        )
    document = json.loads(path.read_text(encoding="utf-8"))
    if document.get("format") != FORMAT:
        raise GreenpipeError(
            f"baseline.json format={document.get('format')!r} is not {FORMAT!r}; rebuild the "
            "baseline with drift_baseline"
        )
    return dict(document)


def reference_values(folder: str | os.PathLike[str], document: dict[str, Any], column: str) -> Any:
    """A numeric column's sorted reference values; from the sample if kept, else the 101 quantiles."""
    import numpy as np

    entry = document["columns"][column]
    key = entry.get("reference_key")
    if document.get("reference") and key:
        with np.load(Path(folder) / document["reference"]) as archive:
            return archive[key]
    return np.asarray(entry.get("quantiles", []), dtype="float64")


def _write_json(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=1, sort_keys=True))

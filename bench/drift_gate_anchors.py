"""Issue 14's named anchors as retrain triggers, judged by bench/drift_gate_calendar.py beside drift_gate's rules.

Declared before their first run, each with its tool's default settings (nothing read from the judged periods):
  - nannyml_cbpe: NannyML 0.13.1's confidence-based performance estimation (CBPE, calibration included). A
    model's reference is what NannyML asks for, predictions the model did not train on with their labels: the
    out-of-fold predictions of the same model settings on its own training window, folds grouped by period
    (min(5, W) folds). One chunk per period, NannyML's default thresholds (the reference periods' mean -+ 3 sd).
    Before period t, retrain when the estimate for period t (its features only: no labels needed) falls under
    the lower threshold. (NannyML's direct loss estimation, DLE, estimates regression metrics; every stream here
    is a binary classification, so it has nothing to judge.)
  - evidently_drift: Evidently 0.7.23's DataDriftPreset with its defaults, period t against the serving model's
    training window; retrain on dataset drift (the share of drifted columns >= 0.5).
  - model_monitor: SageMaker Model Monitor's baseline_drift_check at its default comparison_threshold 0.1: retrain
    when any feature's distance between the training window's and period t's distributions (the largest gap
    between the two CDFs, L-infinity) exceeds 0.1. Exact CDFs here, where Model Monitor reads KLL sketches; its
    "Robust" comparison method is not described publicly, so the "Simple" rule (distance > threshold) is used.
NannyML and Evidently need pandas < 3, so each runs in its own venv:
    python3.11 -m venv /work/venv-nannyml && /work/venv-nannyml/bin/pip install nannyml==0.13.1 statsmodels "pandas<3"
    python3.11 -m venv /work/venv-evidently && /work/venv-evidently/bin/pip install evidently==0.7.23 "pandas<3"
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import drift_gate_carried_cadence as carried
import drift_gate_streams as streams
import numpy as np

HERE = Path(__file__).resolve().parent
NANNYML_PYTHON = Path("/work/venv-nannyml/bin/python")
EVIDENTLY_PYTHON = Path("/work/venv-evidently/bin/python")
MONITOR_THRESHOLD = 0.1  # Model Monitor's default comparison_threshold
ANCHOR_POLICIES = ("nannyml_cbpe", "evidently_drift", "model_monitor")


def _run(python: Path, script: str, *args: str) -> Any:
    if not python.exists():
        raise SystemExit(f"{python} is missing: create it as bench/drift_gate_anchors.py's docstring says")
    done = subprocess.run([str(python), str(HERE / script), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{script} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def out_of_fold(stream: streams.Stream, end: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(P(label 1), label, period) on the window [end - W, end), each row predicted by a model that did not
    train on its period."""
    import pandas as pd

    window = list(range(end - stream.window, end))
    folds = min(5, len(window))
    proba, label, period = [], [], []
    for fold in range(folds):
        held = [p for i, p in enumerate(window) if i % folds == fold]
        clf = streams.fit(stream, pd.concat([stream.periods[p] for p in window if p not in held]))
        for p in held:
            rows = stream.periods[p]
            proba.append(clf.predict_proba(rows[stream.features])[:, 1])
            label.append(rows["label"].to_numpy())
            period.append(np.full(len(rows), p))
    return np.concatenate(proba), np.concatenate(label), np.concatenate(period)


def cbpe_tables(stream: streams.Stream, tables: streams.Tables) -> tuple[np.ndarray, np.ndarray]:
    """NannyML CBPE for every model end: (estimated accuracy, under the lower threshold) per (end, period)."""
    T = stream.count
    arrays: dict[str, np.ndarray] = {"ends": np.arange(stream.first, T)}
    for end in range(stream.first, T):
        arrays[f"ref_proba_{end}"], arrays[f"ref_label_{end}"], arrays[f"ref_period_{end}"] = out_of_fold(stream, end)
        arrays[f"proba_{end}"] = np.concatenate([tables.proba[end, t] for t in range(end, T)])
        arrays[f"period_{end}"] = np.concatenate([np.full(tables.proba[end, t].size, t) for t in range(end, T)])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "models.npz"
        np.savez(path, **arrays)  # type: ignore[arg-type]
        result = _run(NANNYML_PYTHON, "drift_gate_nannyml_run.py", str(path))
    estimate, below = np.full((T, T), np.nan), np.zeros((T, T), dtype=bool)
    for end, row in result.items():
        for t, value, low in zip(row["period"], row["estimate"], row["below"], strict=True):
            estimate[int(end), t], below[int(end), t] = value, low
    return estimate, below


def evidently_schedule(stream: streams.Stream) -> tuple[set[int], list[float]]:
    """Evidently's DataDriftPreset walked over the stream: (retrain points, drifted share at each decision)."""
    import pandas as pd

    with tempfile.TemporaryDirectory() as folder:
        data, spec = Path(folder) / "stream.parquet", Path(folder) / "spec.json"
        pd.concat(
            [rows[stream.features].assign(period=p) for p, rows in enumerate(stream.periods)], ignore_index=True
        ).to_parquet(data)
        spec.write_text(
            json.dumps(
                {
                    "features": stream.features,
                    "categorical": stream.categorical,
                    "window": stream.window,
                    "first": stream.first,
                }
            )
        )
        result = _run(EVIDENTLY_PYTHON, "drift_gate_evidently_policy.py", str(data), str(spec))
    return set(result["retrain_at"]), result["shares"]


def schedules(stream: streams.Stream, tables: streams.Tables) -> tuple[dict[str, set[int]], dict[str, Any]]:
    """Each anchor's retrain points on the stream, and what to print about them."""
    estimate, below = cbpe_tables(stream, tables)
    evidently, shares = evidently_schedule(stream)
    served = ~np.isnan(estimate)
    never_due = stream.count  # the rule alone: no model is retired by age
    out = {
        "nannyml_cbpe": carried.schedule(stream.first, stream.count, lambda end, t: bool(below[end, t]), never_due),
        "evidently_drift": evidently,
        "model_monitor": carried.schedule(
            stream.first, stream.count, lambda end, t: tables.distance[end, t] > MONITOR_THRESHOLD, never_due
        ),
    }
    notes = {
        "cbpe_mean_abs_error_pts": 100 * float(np.abs(estimate[served] - tables.accuracy[served]).mean()),
        "evidently_mean_share": float(np.mean(shares)) if shares else None,
    }
    return out, notes

"""drift_gate's default KPI rule: a one-sided CUSUM of the model's accuracy shortfall since it was trained.

Each labelled period the model served adds (its accuracy in the first period of the same season - its accuracy
now - k x noise) to a running sum that never goes below zero; the gate retrains when the sum passes h x noise.
`noise` is the standard deviation of the difference of two accuracies measured on a period's rows,
sqrt(2 p (1 - p) / n), so nothing is tuned on the stream: k = 0.5 and h = 4 are the textbook CUSUM settings
for a shift of one standard deviation (Montgomery, *Introduction to Statistical Quality Control*, 9.1). One
period far below its season's start fires at once (a collapse); a small loss fires once it has lasted.

bench/drift_gate_calendar.py runs this same function on five streams: unlike a single-period KPI drop, it was
above a calendar of the same size on each of them, but within noise (a 90% interval across zero) on four of five,
and it does not keep a 1-point accuracy budget on rainfall (component README).
"""

from __future__ import annotations

import math
from typing import Any

from greenpipe.errors import GreenpipeError

CUSUM_K = 0.5  # the slack per period, in noise units: half of the one-sd shift the chart is set to catch
CUSUM_H = 4.0  # the alarm level, in noise units


def accuracy_noise(accuracy: float, rows: float) -> float:
    """The standard deviation of the difference of two accuracies, each measured on `rows` rows."""
    accuracy = min(max(accuracy, 0.0), 1.0)
    return math.sqrt(2 * accuracy * (1 - accuracy) / max(rows, 1.0))


def cusum_status(
    kpi_by_age: list[float],
    rows_by_age: list[float],
    season: int = 1,
    k: float = CUSUM_K,
    h: float = CUSUM_H,
) -> dict[str, Any]:
    """Run the CUSUM over the model's KPI at ages 0, 1, ... (age 0: the first period it served, the last: the
    newest labelled period). Returns {"alarm", "statistic", "limit", "noise", "model_age", "reason"}."""
    if not kpi_by_age:
        raise GreenpipeError(
            "kpi_history holds no KPI values: give the model's KPI on each period it served, from the first "
            '(age 0) to the newest labelled one, e.g. {"values": [0.80, 0.78], "rows": [182, 182]}'
        )
    if len(rows_by_age) != len(kpi_by_age) or any(r <= 0 for r in rows_by_age):
        raise GreenpipeError(
            f"kpi_history has {len(kpi_by_age)} values but rows={list(rows_by_age)!r}: give one positive row "
            "count per period (how many labelled rows each KPI was measured on)"
        )
    if season < 1:
        raise GreenpipeError(f"season={season!r} must be >= 1 period (2 for half-year periods of yearly weather)")
    if k < 0 or h <= 0:
        raise GreenpipeError(f"cusum_k={k!r} must be >= 0 and cusum_h={h!r} > 0 (noise units; 0.5 and 4 by default)")
    references = kpi_by_age[:season]
    mean_rows = sum(rows_by_age) / len(rows_by_age)
    noise = max(accuracy_noise(sum(references) / len(references), mean_rows), 1e-9)
    statistic = 0.0
    for age, value in enumerate(kpi_by_age):
        statistic = max(0.0, statistic + references[age % season] - value - k * noise)
    alarm = statistic > h * noise
    age = len(kpi_by_age) - 1
    reason = (
        f"KPI shortfall since training (CUSUM over {len(kpi_by_age)} periods, model age {age}) "
        f"{statistic:.4f} {'>' if alarm else '<='} {h:g} x noise {noise:.4f} = {h * noise:.4f}"
    )
    return {
        "alarm": bool(alarm),
        "summary": f"KPI shortfall since training {statistic:.4f} {'>' if alarm else '<='} limit {h * noise:.4f}",
        "statistic": statistic,
        "limit": h * noise,
        "noise": noise,
        "model_age": age,
        "season": season,
        "reason": reason,
    }


def read_kpi_history(path: str) -> dict[str, Any]:
    """The kpi_history input: a JSON file {"values": [...], "rows": [...]}, or a folder holding history.json."""
    import json
    from pathlib import Path

    source = Path(path)
    if source.is_dir():
        source = source / "history.json"
    try:
        document = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise GreenpipeError(
            f"kpi_history={str(path)!r} is not a readable JSON file ({error}); write "
            '{"values": [KPI at age 0, 1, ...], "rows": [rows of each period]}'
        ) from error
    if not isinstance(document, dict) or "values" not in document or "rows" not in document:
        raise GreenpipeError(
            f"kpi_history={str(path)!r} lacks 'values' or 'rows'; write "
            '{"values": [KPI at age 0, 1, ...], "rows": [rows of each period]}'
        )
    return document

"""The baseline's great_expectations suite, evaluated without great_expectations' per-row machinery.

Importing great_expectations takes 6-20 s on these machines and validating 1M rows with it several more; the drift
check already holds what every expectation in a drift baseline's suite asks about (each numeric column sorted,
each categorical column counted, the null counts), so those expectation types are evaluated here from that, with
great_expectations' own semantics (`mostly`, percentages of non-null values, NaN counted as null); the tests
check that the outcome equals great_expectations' validation of the same suite on the same batches. Expectation
types not listed in EVALUATED (a suite a user extended) are handed to great_expectations itself (quality.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

EVALUATED = (
    "expect_table_row_count_to_be_between",
    "expect_column_to_exist",
    "expect_column_values_to_be_in_type_list",
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_be_between",
    "expect_column_values_to_be_in_set",
)


@dataclass(frozen=True)
class Outcome:
    """One expectation's result, in the terms great_expectations reports it."""

    kind: str
    column: str | None
    success: bool
    unexpected_percent: float | None = None
    observed: Any = None


def split_suite(suite_json: dict[str, Any]) -> tuple[dict[str | None, list[dict]], list[dict]]:
    """({column or None for table-level: expectations evaluated here}, [expectations for great_expectations])."""
    mine: dict[str | None, list[dict]] = {}
    theirs: list[dict] = []
    for expectation in suite_json.get("expectations", []):
        if expectation["type"] in EVALUATED:
            mine.setdefault(expectation["kwargs"].get("column"), []).append(expectation)
        else:
            theirs.append(expectation)
    return mine, theirs


def check_table(expectations: list[dict], rows: int, columns: list[str]) -> list[Outcome]:
    """Table-level expectations and column existence."""
    out = []
    for expectation in expectations:
        kwargs = expectation["kwargs"]
        if expectation["type"] == "expect_table_row_count_to_be_between":
            ok = _between(rows, kwargs.get("min_value"), kwargs.get("max_value"))
            out.append(Outcome(expectation["type"], None, ok, observed=rows))
        elif expectation["type"] == "expect_column_to_exist":
            out.append(Outcome(expectation["type"], kwargs["column"], kwargs["column"] in columns))
    return out


def check_column(
    expectations: list[dict],
    column: str,
    rows: int,
    nulls: int,
    dtype_name: str,
    ordered: Any = None,
    counts: dict[str, float] | None = None,
) -> list[Outcome]:
    """A column's expectations from its facts: null count, pandas dtype name, sorted non-null values (numeric)
    or the count of each value's text (categorical)."""
    import numpy as np

    out = []
    present = rows - nulls
    for expectation in expectations:
        kind, kwargs = expectation["type"], expectation["kwargs"]
        mostly = float(kwargs.get("mostly", 1.0))
        if kind == "expect_column_to_exist":
            continue  # table level
        if kind == "expect_column_values_to_be_in_type_list":
            out.append(Outcome(kind, column, dtype_name in kwargs["type_list"], observed=dtype_name))
        elif kind == "expect_column_values_to_not_be_null":
            share = nulls / rows if rows else 0.0
            out.append(Outcome(kind, column, rows == 0 or 1 - share >= mostly, 100 * share))
        elif kind == "expect_column_values_to_be_between":
            if ordered is None:
                unexpected = present  # a column that is not numeric cannot be compared with numbers
            else:
                low, high = kwargs.get("min_value"), kwargs.get("max_value")
                below = (
                    0
                    if low is None
                    else np.searchsorted(ordered, low, "left" if not kwargs.get("strict_min") else "right")
                )
                above = (
                    0
                    if high is None
                    else ordered.size
                    - np.searchsorted(ordered, high, "right" if not kwargs.get("strict_max") else "left")
                )
                unexpected = int(below + above)
            out.append(_mostly(kind, column, unexpected, present, mostly))
        elif kind == "expect_column_values_to_be_in_set":
            allowed = {str(v) for v in kwargs["value_set"]}
            unexpected = int(sum(n for value, n in (counts or {}).items() if value not in allowed))
            out.append(_mostly(kind, column, unexpected, present, mostly))
    return out


def _mostly(kind: str, column: str, unexpected: int, present: int, mostly: float) -> Outcome:
    share = unexpected / present if present else 0.0
    return Outcome(kind, column, present == 0 or 1 - share >= mostly, 100 * share)


def _between(value: float, low: float | None, high: float | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


def describe(outcome: Outcome) -> str:
    """The failure in words, the same sentence quality.py writes for great_expectations' results."""
    where = f"column {outcome.column}: " if outcome.column else ""
    what = outcome.kind.removeprefix("expect_").replace("_", " ")
    if outcome.unexpected_percent is not None:
        return f"{where}{what} failed for {outcome.unexpected_percent:.2f}% of values"
    return f"{where}{what} failed (observed {outcome.observed!r})"

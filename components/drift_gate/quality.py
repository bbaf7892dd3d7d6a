"""Data quality with great_expectations: a suite made from the baseline, validated on each new batch.

The suite (schema, nulls, ranges, categories, row count) is written next to baseline.json as GE's own JSON, so it
can be read, edited and run by great_expectations itself. great_expectations is imported lazily, by
contracts/quality.py (the components' one bootstrap of it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from greenpipe.components.contracts.quality import ephemeral_context, import_great_expectations, validate_frame

NUMBER_TYPES = [
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "float32",
    "float64",
    "Int8",
    "Int16",
    "Int32",
    "Int64",
    "Float32",
    "Float64",
]
STRING_TYPES = ["object", "str"]  # string columns reach GE as object: GE 1.x does not recognise pandas 3's "str" dtype
BOOL_TYPES = ["bool", "boolean", "object"]
FAMILY_TYPES = {"number": NUMBER_TYPES, "string": STRING_TYPES, "bool": BOOL_TYPES}


@dataclass
class QualityResult:
    """Whether the batch passed, and why not, in words a user can act on."""

    ok: bool
    failures: list[str] = field(default_factory=list)
    evaluated: int = 0
    missing_columns: list[str] = field(default_factory=list)
    changed_dtypes: dict[str, str] = field(default_factory=dict)


def build_suite(
    document: dict[str, Any],
    name: str = "drift_baseline",
    null_tolerance: float = 0.01,
    range_margin: float = 0.5,
    mostly: float = 0.99,
) -> dict[str, Any]:
    """A GE suite from a baseline document, returned as GE's JSON dict.

    Args:
        null_tolerance: how much the share of nulls may grow over the reference's before the batch fails.
        range_margin: numeric values may leave [min, max] by this share of the span (a shift is drift, not bad data).
        mostly: the share of values that must meet a range or category expectation.
    """
    gx = import_great_expectations()
    ephemeral_context()  # GE 1.x wants an active context before a suite takes expectations
    suite = gx.ExpectationSuite(name=name)
    suite.add_expectation(gx.expectations.ExpectTableRowCountToBeBetween(min_value=1))
    for column, entry in document["columns"].items():
        suite.add_expectation(gx.expectations.ExpectColumnToExist(column=column))
        suite.add_expectation(
            gx.expectations.ExpectColumnValuesToBeInTypeList(column=column, type_list=FAMILY_TYPES[entry["family"]])
        )
        total = entry["count"] + entry["missing"]
        completeness = entry["count"] / total if total else 1.0
        suite.add_expectation(
            gx.expectations.ExpectColumnValuesToNotBeNull(
                column=column, mostly=max(0.0, round(completeness - null_tolerance, 6))
            )
        )
        if entry["kind"] == "numeric" and "min" in entry:
            span = entry["max"] - entry["min"]
            suite.add_expectation(
                gx.expectations.ExpectColumnValuesToBeBetween(
                    column=column,
                    min_value=entry["min"] - range_margin * span,
                    max_value=entry["max"] + range_margin * span,
                    mostly=mostly,
                )
            )
        elif entry["kind"] == "categorical" and entry["family"] == "string" and entry["categories"]:
            if "__other__" not in entry["categories"]:  # a closed set of categories: new ones are suspect
                suite.add_expectation(
                    gx.expectations.ExpectColumnValuesToBeInSet(
                        column=column, value_set=sorted(entry["categories"]), mostly=mostly
                    )
                )
    return dict(suite.to_json_dict())


def precheck(document: dict[str, Any], batch: Any) -> QualityResult:
    """Schema problems found before validation: missing columns, changed dtypes, no rows (`batch`: a Batch)."""
    result = QualityResult(ok=True)
    if batch.rows == 0:
        result.failures.append(f"empty batch: 0 rows (the baseline had {document['rows']}); nothing to check drift on")
    for column, entry in document["columns"].items():
        if column not in batch:
            result.missing_columns.append(column)
            continue
        if batch.family(column) != entry["family"]:
            result.changed_dtypes[column] = f"{entry['dtype']} -> {batch.schema.field(column).type}"
    if result.missing_columns:
        result.failures.append(f"missing columns: {', '.join(result.missing_columns)}")
    for column, change in result.changed_dtypes.items():
        result.failures.append(f"column {column}: dtype changed {change}")
    result.ok = not result.failures
    return result


def collect(pre: QualityResult, outcomes: list[Any]) -> QualityResult:
    """The prechecks plus the suite's outcomes evaluated by suite_check (failures in the same words as GE's)."""
    from greenpipe.components.drift_gate.suite_check import describe

    result = QualityResult(
        ok=pre.ok,
        failures=list(pre.failures),
        evaluated=len(outcomes),
        missing_columns=pre.missing_columns,
        changed_dtypes=pre.changed_dtypes,
    )
    for outcome in outcomes:
        if outcome.success or (outcome.kind == "expect_column_to_exist" and outcome.column in pre.missing_columns):
            continue
        result.ok = False
        result.failures.append(describe(outcome))
    return result


def validate(suite_json: dict[str, Any], frame: Any, pre: QualityResult) -> QualityResult:
    """Run a GE suite on the batch with great_expectations itself; the result adds GE's failures to `pre`'s.

    The gate evaluates a drift baseline's own expectation types without GE (suite_check.py); this runs the rest
    (types a user added to expectations.json), and is what the tests compare suite_check with."""
    gx = import_great_expectations()
    skip = set(pre.missing_columns) | set(pre.changed_dtypes)  # their failure is already known and stated
    expectations = [
        e
        for e in suite_json["expectations"]
        if e["kwargs"].get("column") not in skip or e["type"] == "expect_column_to_exist"
    ]
    context = ephemeral_context()
    suite = gx.ExpectationSuite(name=suite_json["name"], expectations=expectations)
    outcome = validate_frame(context, suite, frame)
    result = QualityResult(
        ok=pre.ok,
        failures=list(pre.failures),
        evaluated=pre.evaluated + len(outcome.results),
        missing_columns=pre.missing_columns,
        changed_dtypes=pre.changed_dtypes,
    )
    for item in outcome.results:
        if item.success:
            continue
        config = item.expectation_config
        column = config.kwargs.get("column")
        if config.type == "expect_column_to_exist" and column in pre.missing_columns:
            continue  # stated once, by the precheck
        result.ok = False
        result.failures.append(_describe(config.type, column, item.result, item.exception_info))
    return result


def _describe(kind: str, column: str | None, result: dict[str, Any], exception: Any) -> str:
    where = f"column {column}: " if column else ""
    what = kind.removeprefix("expect_").replace("_", " ")
    if isinstance(exception, dict) and exception.get("raised_exception"):
        return f"{where}{what} could not be evaluated ({exception.get('exception_message')})"
    if result.get("unexpected_percent") is not None:
        return f"{where}{what} failed for {result['unexpected_percent']:.2f}% of values"
    return f"{where}{what} failed (observed {result.get('observed_value')!r})"

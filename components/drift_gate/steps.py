"""The steps: `drift_baseline` at training time, `drift_gate` on each new batch."""

from typing import Literal, NamedTuple

from greenpipe import Artifact, Dataset, Model, Output, Report, Resources, step
from greenpipe.errors import GreenpipeError


class DriftGateResult(NamedTuple):
    """What a pipeline branches on: `with when(gate.retrain): ...`. `kpi_drop`: the KPI fell under its floor or
    reference, or its CUSUM over the model's KPI history passed its alarm level."""

    retrain: bool
    drift_share: float
    quality_ok: bool
    kpi_drop: bool


@step(
    description="Profile training data into a drift baseline: statistics, quantiles and a great_expectations suite",
    resources=Resources(cpu=2, memory_gb=4),
)
def drift_baseline(
    data: Dataset,
    baseline: Output[Artifact],
    target: str = "",
    max_reference_rows: int = 100_000,
    null_tolerance: float = 0.01,
    range_margin: float = 0.5,
) -> None:
    """Write the baseline folder (baseline.json, expectations.json, reference.npz) for `drift_gate`.

    Args:
        data: the training data (Parquet) the model is fitted on.
        baseline: the baseline folder written here; register pins it with the model.
        target: the label column; it is left out of the drift checks and the suite.
        max_reference_rows: each numeric column keeps at most this many sorted reference values (above it, the
            values at evenly spaced ranks: KS and Wasserstein within 1 / max_reference_rows of the full column's).
        null_tolerance: how much the share of nulls may grow before a batch fails data quality.
        range_margin: how far (a share of the span) values may leave the training range before failing quality.
    """
    import pandas as pd

    from greenpipe.components.drift_gate.baseline import profile_frame, write_baseline
    from greenpipe.components.drift_gate.quality import build_suite

    frame = pd.read_parquet(data.path)
    if target and target not in frame.columns:
        raise GreenpipeError(
            f"drift_baseline: target={target!r} is not a column of the training data "
            f"({', '.join(map(str, frame.columns[:10]))}); pass the label column or ''"
        )
    document, reference = profile_frame(frame, target=target, max_reference_rows=max_reference_rows)
    suite = build_suite(document, null_tolerance=null_tolerance, range_margin=range_margin)
    document["suite"] = "expectations.json"
    write_baseline(baseline.path, document, reference, suite)


@step(
    description="Check a batch against a drift baseline (data quality, per-feature drift, KPI) and decide "
    "whether to retrain",
    resources=Resources(cpu=2, memory_gb=4),
)
def drift_gate(
    data: Dataset,
    baseline: Artifact,
    decision: Output[Artifact],
    report: Output[Report],
    model: Model | None = None,
    kpi_history: Artifact | None = None,
    target: str = "",
    numeric_test: Literal["auto", "ks", "ks_distance", "wasserstein", "psi"] = "auto",
    categorical_test: Literal["auto", "chisquare", "jensenshannon"] = "auto",
    thresholds: dict | None = None,
    correction: Literal["bonferroni", "bh", "none"] = "bonferroni",
    min_effect: float = 0.05,
    drift_share: float = 0.5,
    importance: dict | None = None,
    kpi: Literal["accuracy", "roc_auc", "r2"] = "accuracy",
    kpi_value: float | None = None,
    kpi_floor: float = 0.0,
    kpi_reference: float | None = None,
    kpi_max_drop: float = 0.01,
    retrain_on_bad_data: bool = False,
    model_age: int | None = None,
    cadence: int | None = None,
    accuracy_by_age: list | None = None,
    accuracy_budget: float = 0.005,
    season: int = 1,
    cusum_k: float = 0.5,
    cusum_h: float = 4.0,
) -> DriftGateResult:
    """Decide whether the batch calls for retraining; write the decision JSON and an HTML report.

    Args:
        data: the new batch (Parquet), in arrival order.
        baseline: the folder drift_baseline (or baseline_from_model_monitor) wrote at training time.
        decision: the decision JSON written here (retrain, summary, reasons, per-feature table, KPI, CUSUM).
        report: the HTML report written here: the decision in one sentence, the table, per-feature plots.
        target: the label column of the batch, if labels arrived with it (needed to measure the KPI on `model`).
        kpi: the metric the KPI is measured with: "accuracy", "roc_auc" or "r2".
        numeric_test / categorical_test: a test name from stattests.DRIFT_TESTS, or "auto" (two-sample KS for
            numeric, chi-square for categorical features, each also asked for an effect of `min_effect`).
        thresholds: per test name, alpha for p-value tests or the distance that counts as drift.
        correction: "bonferroni", "bh" (Benjamini-Hochberg) or "none", for the p-values of all features.
        min_effect: the effect a p-value test must also show (normalised Wasserstein for numeric features,
            Jensen-Shannon distance for categorical ones): 0.05 keeps a 0.1 sd shift detectable.
        drift_share: the share of drifted features (weighted by `importance` when given) that makes the dataset
            drifted.
        importance: feature -> importance (e.g. the model's feature_importances_); weighs the drift share, so one
            important feature can carry the decision, and orders the report.
        model: with labels (`target` in the batch), the gate measures the model's `kpi` on the batch.
        kpi_value: a KPI measured elsewhere (e.g. last period's accuracy once its labels arrived).
        kpi_floor / kpi_reference + kpi_max_drop: the KPI drops when under the floor, or more than max_drop
            under the reference.
        kpi_history: the model's KPI on each labelled period it has served, a JSON file {"values": [KPI at age
            0, 1, ..., the newest labelled period], "rows": [labelled rows of each]} (pipelines/retrain.py writes
            it from the registry). With it, the gate retrains when the KPI's shortfall since the model's first
            periods, summed by a one-sided CUSUM (kpi_cusum.py), passes `cusum_h` noise units: on the five streams
            of bench/drift_gate_calendar.py no stream below a calendar of the same size, but within noise on four.
        season: periods per seasonal cycle: the KPI at age a is compared with the KPI at age a mod `season`
            (2 for half-year periods of yearly weather), so a season's usual level is not read as decay.
        cusum_k: the CUSUM's slack per period, in noise units (0.5: textbook, for a one-noise-unit shift).
        cusum_h: the CUSUM's alarm level, in noise units (4: textbook); one period this far down fires at once.
        retrain_on_bad_data: retrain even when the batch failed data quality.
        model_age / cadence / accuracy_by_age / accuracy_budget: a schedule. With `model_age` (periods since the
            model's training window) and either `cadence` or the model's measured accuracy at ages 1, 2, ...
            (`accuracy_by_age`, from its training window; the cadence is then the longest that loses at most
            `accuracy_budget` on average against retraining every period), the gate retrains when the model is
            due or its KPI drops; drift is reported, not obeyed (see README: no drift gate beat a calendar).
    """
    import json

    from greenpipe.artifacts import write_json_atomic
    from greenpipe.components.drift_gate.baseline import read_baseline
    from greenpipe.components.drift_gate.batch import Batch, count_nulls
    from greenpipe.components.drift_gate.cadence import schedule_status
    from greenpipe.components.drift_gate.gate import (
        DriftSettings,
        apply_correction,
        decide,
        kpi_status,
        measure_kpi,
        start_feature_checks,
    )
    from greenpipe.components.drift_gate.kpi_cusum import cusum_status, read_kpi_history
    from greenpipe.components.drift_gate.quality import collect, precheck, validate
    from greenpipe.components.drift_gate.report import render
    from greenpipe.components.drift_gate.suite_check import check_table, split_suite

    document = read_baseline(baseline.path)
    if numeric_test == "auto":  # a baseline imported from Model Monitor brings its own test and threshold
        numeric_test = document.get("default_tests", {}).get("numeric", "auto")
    thresholds = {**document.get("thresholds", {}), **(thresholds or {})}
    settings = DriftSettings(
        numeric_test, categorical_test, thresholds, correction, min_effect, drift_share, importance or None
    )
    schedule = schedule_status(model_age, cadence, accuracy_by_age, accuracy_budget)  # bad params fail before work
    cusum = None
    if kpi_history is not None:
        history = read_kpi_history(kpi_history.path)
        if history["values"]:  # empty: the batch is inside the model's training window, nothing served yet
            cusum = cusum_status(list(history["values"]), list(history["rows"]), season, cusum_k, cusum_h)
    batch = Batch(data.path)
    pre = precheck(document, batch)
    skip = {c: "missing from the batch" for c in pre.missing_columns}
    skip.update({c: f"dtype changed ({change})" for c, change in pre.changed_dtypes.items()})
    if batch.rows == 0:
        skip = {c: "empty batch" for c in document["columns"]}
    suite: dict = {}
    if document.get("suite"):
        with open(f"{baseline.path}/{document['suite']}", encoding="utf-8") as handle:
            suite = json.load(handle)
    mine, theirs = split_suite(suite)
    pool, futures = start_feature_checks(baseline.path, document, batch, settings, skip, mine)
    try:
        outcomes = check_table(
            mine.get(None, []) + [e for c, es in mine.items() if c for e in es], batch.rows, batch.columns
        )
        rows = []
        for column in document["columns"]:
            row, column_outcomes = futures[column].result()
            rows.append(row)
            outcomes += column_outcomes
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    quality = collect(pre, outcomes)
    if theirs:  # expectation types a user added: great_expectations itself runs them
        quality = validate({"name": suite["name"], "expectations": theirs}, batch.frame(), quality)
    apply_correction(rows, settings)
    measured = kpi_value
    labelled = bool(target) and target in batch and batch.rows > 0 and count_nulls(batch.read(target)) == 0
    if measured is None and model is not None and labelled and quality.ok:
        measured = measure_kpi(model.path, batch.frame(), target, kpi)
    kpi_doc = kpi_status(measured, kpi, kpi_floor, kpi_reference, kpi_max_drop)
    result = decide(rows, quality, settings, kpi_doc, retrain_on_bad_data, schedule, cusum)
    result["rows"] = batch.rows
    write_json_atomic(decision.path, result)
    with open(report.path, "w", encoding="utf-8") as handle:
        handle.write(render(result, rows))
    kpi_says = bool(kpi_doc["drop"]) or bool(cusum and cusum["alarm"])
    return DriftGateResult(result["retrain"], float(result["drift"]["share"]), bool(quality.ok), kpi_says)


@step(description="Turn a SageMaker Model Monitor baseline (statistics.json, constraints.json) into a drift baseline")
def baseline_from_model_monitor(monitor: Artifact, baseline: Output[Artifact]) -> None:
    """Read Model Monitor's baselining output folder; gate later with its L-infinity test and threshold.

    Args:
        monitor: the folder Model Monitor's baselining job wrote (statistics.json, constraints.json).
        baseline: the drift baseline folder written here, for drift_gate.
    """
    import greenpipe.components.drift_gate.model_monitor as model_monitor
    from greenpipe.components.drift_gate.baseline import write_baseline
    from greenpipe.components.drift_gate.quality import build_suite

    statistics, constraints = model_monitor.read_model_monitor_folder(monitor.path)
    document, reference, thresholds = model_monitor.baseline_from_model_monitor(statistics, constraints)
    document["thresholds"] = thresholds
    document["default_tests"] = {"numeric": "ks_distance"}
    document["suite"] = "expectations.json"
    write_baseline(baseline.path, document, reference, build_suite(document))


@step(description="Write a drift baseline as SageMaker Model Monitor's statistics.json and constraints.json")
def baseline_to_model_monitor(baseline: Artifact, monitor: Output[Artifact], comparison_threshold: float = 0.1) -> None:
    """The folder Model Monitor's baselining job would have written, for teams that keep both.

    Args:
        baseline: a drift baseline folder (from drift_baseline).
        monitor: the folder written here: statistics.json and constraints.json.
        comparison_threshold: the distribution constraint's threshold written into constraints.json.
    """
    from pathlib import Path

    import greenpipe.components.drift_gate.model_monitor as model_monitor
    from greenpipe.artifacts import write_json_atomic
    from greenpipe.components.drift_gate.baseline import read_baseline, reference_values

    document = read_baseline(baseline.path)
    statistics, constraints = model_monitor.model_monitor_files(
        document, lambda column: reference_values(baseline.path, document, column), comparison_threshold
    )
    Path(monitor.path).mkdir(parents=True, exist_ok=True)
    write_json_atomic(Path(monitor.path) / "statistics.json", statistics)
    write_json_atomic(Path(monitor.path) / "constraints.json", constraints)

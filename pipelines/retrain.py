"""retrain: ingest a new period -> drift_gate against the champion's baseline and the champion's KPI history ->
when retrain: spot_train warm-started from the champion -> evaluate on the new period -> register, promoted only if
better than the champion. A skipped retrain is recorded with what its last run measured.

The gate's default rule is the one bench/drift_gate_calendar.py found better than a calendar: retrain when the
champion's accuracy shortfall since it was trained (a CUSUM over every period it served, read here from the
registry's record of its training window) passes its alarm level, or when the batch drifts; never on bad data."""

import json
import pickle
from pathlib import Path
from typing import NamedTuple

from greenpipe import Artifact, Dataset, Model, Output, pipeline, step, when
from greenpipe.components.drift_gate import drift_baseline, drift_gate
from greenpipe.components.feature_dedup import feature_dedup, training_set
from greenpipe.components.register import register
from greenpipe.components.spot_train import spot_train
from greenpipe.pipelines.rainfall import (
    PERIOD_DAYS,
    champion,
    check_quality,
    evaluate_classifier,
    ingest_rainfall,
    model_frame,
    require_champion,
    time_split,
)
from greenpipe.pipelines.rainfall_features import ENTITY_KEY, EVENT_TIME, FEATURE_SET, TRANSFORM
from greenpipe.store import Store


def _features(raw):  # the same feature set, shared with train through feature_dedup
    checked = check_quality(data=raw)
    features = feature_dedup(
        data=checked.checked, name=FEATURE_SET, transform=TRANSFORM, entity_key=ENTITY_KEY, event_time=EVENT_TIME
    )
    return training_set(
        labels=checked.checked,
        features=features.features,
        entity_key=ENTITY_KEY,
        label_time=EVENT_TIME,
        feature_time=EVENT_TIME,
    )


# Gate on effect sizes: a half-year against a baseline of all seasons always differs a little (every 182-day period
# "drifts" at the default 0.1). 0.54 is the 95th percentile of the normalised Wasserstein distance between periods
# of the first training window, calibrated in bench/drift_gate_rainfall.py.
WASSERSTEIN_THRESHOLD = 0.54
SEASON = round(365.25 / PERIOD_DAYS)  # periods per year: the champion's KPI is compared with its own same season


class ChampionHistory(NamedTuple):
    """The champion's age in periods at this batch (-1: its training run is unknown), and periods scored."""

    model_age: int
    periods_scored: int


def first_served_period(store: Store, model_name: str, model_digest: str) -> tuple[int | None, int | None]:
    """(the registered version holding this model, the first period after its training window), from the params of
    the run that registered it: `train` trained on [first_period, first_period + periods), `retrain` on the
    `window` periods before `period`. None for a model or run the registry cannot place."""
    from greenpipe.components.register import list_versions

    record = next((v for v in list_versions(store, model_name) if v.model_digest == model_digest), None)
    run = store.run(record.run_id) if record is not None and record.run_id else None
    if record is None or run is None:
        return None if record is None else record.version, None
    params = json.loads(run["params"])
    if run["pipeline"] == "train":
        return record.version, int(params["first_period"]) + int(params["periods"])
    if run["pipeline"] == "retrain":
        return record.version, int(params["period"])
    return record.version, None


@step(
    description="Score the champion on every labelled period it has served: the KPI history drift_gate's CUSUM reads",
    # Cached: a registered version (found by the model's digest) and the run that made it never change, so the
    # model, the data and the period decide the result.
)
def champion_history(
    data: Dataset,
    batch: Dataset,
    model: Model,
    history: Output[Artifact],
    period: int = 40,
    model_name: str = "rainfall",
) -> ChampionHistory:
    """Write {"values": accuracy per period, "rows": labelled rows per period, "periods": [...]} for the periods
    from the first one after the champion's training window through `period`.

    Args:
        data: labelled rows of the periods before `period`, with a `period` column.
        batch: the labelled rows of `period` itself (the batch being gated), in the model's columns.
        model: the champion's model folder.
        period: the period being gated (the newest labelled one).
        model_name: the registered model whose champion is scored.
    """
    import pandas as pd

    from greenpipe.artifacts import write_json_atomic
    from greenpipe.components.contracts.model_folder import ModelFolder
    from greenpipe.context import current
    from greenpipe.digest import digest_path

    version, first = first_served_period(current().store(), model_name, model.digest or digest_path(model.path))
    folder = ModelFolder.open(model.path)
    described = folder.description()
    with open(folder.model_file, "rb") as handle:
        clf = pickle.load(handle)  # the champion step copied it from the store after checking its digest
    frame = pd.read_parquet(data.path)
    parts = [(number, frame[frame["period"] == number]) for number in range(period if first is None else first, period)]
    if first is not None and first <= period:
        parts.append((period, pd.read_parquet(batch.path)))
    values, rows, periods = [], [], []
    for number, part in parts:
        if part.empty:
            continue
        features = part[described.feature_columns(list(part.columns))]
        # spot_train's epoch loop fits on arrays: score on arrays too (as evaluate_classifier does)
        inputs = features if hasattr(clf, "feature_names_in_") else features.to_numpy()
        values.append(float((clf.predict(inputs) == part[described.target].to_numpy()).mean()))
        rows.append(len(part))
        periods.append(number)
    write_json_atomic(
        Path(history.path),
        {"kpi": "accuracy", "version": version, "periods": periods, "values": values, "rows": rows},
    )
    return ChampionHistory(-1 if first is None else period - first, len(values))


@pipeline(
    name="retrain",
    description="Retrain the rain classifier only when the champion's KPI shortfall since training passes its CUSUM "
    "alarm or a new period drifts",
    requires=require_champion,
)
def retrain(
    period: int = 40,
    window: int = 6,
    model_name: str = "rainfall",
    drift_share: float = 0.5,
    kpi_floor: float = 0.0,
    retrain_on_bad_data: bool = False,
    max_epochs: int = 30,
    seed: int = 0,
) -> None:
    batch = ingest_rainfall(first_period=period, periods=1)
    batch_frame = model_frame(data=_features(batch.data).training)
    current = champion(model_name=model_name)
    # Every earlier period, labelled; not the batch's own rows, so no two feature_dedup tasks that may run in
    # either order (kfp.local runs them in parallel) compute the same rows.
    served = ingest_rainfall(first_period=period, periods=0, lookback=period)
    scored_history = champion_history(
        data=_features(served.data).training,
        batch=batch_frame.out,
        model=current.model,
        period=period,
        model_name=model_name,
    )
    gate = drift_gate(
        data=batch_frame.out,
        baseline=current.baseline,
        model=current.model,
        kpi_history=scored_history.history,
        season=SEASON,
        target="rain",
        drift_share=drift_share,
        numeric_test="wasserstein",  # drift_gate's "auto" is KS + effect now; keep the calibrated distance
        thresholds={"wasserstein": WASSERSTEIN_THRESHOLD},
        kpi_floor=kpi_floor,
        retrain_on_bad_data=retrain_on_bad_data,
    )
    with when(gate.retrain):
        history = ingest_rainfall(first_period=period, periods=0, lookback=window)
        parts = time_split(data=_features(history.data).training, test_share=0.0)
        baseline = drift_baseline(data=parts.train, target="rain")
        trained = spot_train(
            data=parts.train,
            validation=parts.validation,
            warm_start=current.model,
            estimator="auto",
            target="rain",
            max_epochs=max_epochs,
            seed=seed,
        )
        scored = evaluate_classifier(model=trained.model, test=batch_frame.out)
        register(
            model=trained.model,
            metrics=scored.metrics,
            validation=batch_frame.out,
            baseline=baseline.baseline,
            model_name=model_name,
            metric="accuracy",
        )

"""The pipeline steps: `feature_dedup` (compute a feature set once) and `training_set` (point-in-time join)."""

from typing import NamedTuple

from greenpipe import CodeRef, Dataset, Output, Resources, step
from greenpipe.context import current
from greenpipe.ledger import register_credit_kind

register_credit_kind("dedup", "feature dedup")


class FeatureDedupResult(NamedTuple):
    hit: bool  # the features were already stored; the transform did not run
    rows: int  # rows in the features output
    skipped_rows: int  # rows not written because (entity key, event time) was already stored
    fingerprint: str


class TrainingSetResult(NamedTuple):
    rows: int
    matched_rows: int  # label rows that found a feature row at or before their time


@step(
    description="Compute a feature set once: reuse the stored copy when the same transform ran on the same data",
    resources=Resources(cpu=2, memory_gb=4),
)
def feature_dedup(
    data: Dataset,
    features: Output[Dataset],
    name: str,
    transform: CodeRef,
    entity_key: list[str],
    event_time: str,
    feature_names: list[str] | None = None,
    transform_params: dict | None = None,
    version: int = 1,
) -> FeatureDedupResult:
    """Return the features of `transform` over `data`, computing them only if no team computed them before.

    Args:
        data: Parquet table the transform reads.
        features: written with the entity key, event time and feature columns.
        name: the feature set's catalog name; a name taken by another transform is an error unless `version`
            is raised.
        transform: import path "package.module:function" of `fn(frame, **transform_params) -> frame`.
        entity_key: column(s) naming the entity of each row.
        event_time: column of each row's event time.
        feature_names: the feature columns to keep (default: every column besides key and time).
        transform_params: keyword arguments for the transform; part of the fingerprint.
        version: the feature set's version under `name`.
    """
    from greenpipe.components.feature_dedup.feature_set import FeatureSet
    from greenpipe.components.feature_dedup.feature_store import FeatureStore

    ctx = current()
    feature_set = FeatureSet(
        name=name,
        transform=transform,
        entity_key=entity_key,
        event_time=event_time,
        features=feature_names or (),
        params=transform_params or {},
        version=version,
    )
    store = FeatureStore(ctx.store())
    result = store.get_or_compute(feature_set, data.path, data.digest, exec_id=ctx.exec_id)
    store.materialize(result.stored, features.path)
    if result.hit:
        ctx.credit_avoided(
            "dedup",
            result.stored.energy_kwh,
            result.stored.traced_to,
            f"feature set {name} v{version}: stored features reused, transform not run",
        )
        ctx.log(f"feature set {name}: hit {result.stored.fingerprint} ({result.stored.rows} rows)")
        return FeatureDedupResult(True, result.stored.rows, 0, result.stored.fingerprint)
    assert result.ingest is not None
    if result.ingest.conflicts:
        ctx.log(
            f"warning: feature set {name}: {result.ingest.conflicts} rows already stored under the same "
            "(entity key, event time) hold other values; the stored values were kept"
        )
    ctx.log(
        f"feature set {name}: computed {result.stored.rows} rows, wrote {result.ingest.written}, "
        f"skipped {result.ingest.skipped} already stored"
    )
    return FeatureDedupResult(False, result.stored.rows, result.ingest.skipped, result.stored.fingerprint)


@step(description="Join labels to features as of each label's event time, never later (no leakage)")
def training_set(
    labels: Dataset,
    features: Dataset,
    training: Output[Dataset],
    entity_key: list[str],
    label_time: str,
    feature_time: str,
    inclusive: bool = True,
) -> TrainingSetResult:
    """Write `training`: every label row with the latest feature values at or before its time.

    Args:
        labels: Parquet table with the entity key, `label_time` and the target.
        features: Parquet table from `feature_dedup` (entity key, `feature_time`, features).
        training: written: the label rows joined with their features as of each label's time.
        entity_key: the columns naming an entity in both tables, e.g. ["station"].
        label_time: the labels' event-time column.
        feature_time: the features' event-time column.
        inclusive: a feature stamped exactly at the label's time counts as known (False excludes it).
    """
    import pandas as pd

    from greenpipe.components.feature_dedup.point_in_time import FEATURE_TIME, as_of_join

    joined = as_of_join(
        pd.read_parquet(labels.path),
        pd.read_parquet(features.path),
        entity_key,
        label_time,
        feature_time,
        inclusive=inclusive,
    )
    joined.to_parquet(training.path, index=False)
    return TrainingSetResult(len(joined), int(joined[FEATURE_TIME].notna().sum()))

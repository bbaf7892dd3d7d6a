"""Point-in-time correct training reads: each label row gets the feature values known at its time, not later."""

from __future__ import annotations

from typing import TYPE_CHECKING

from greenpipe.components.feature_dedup.feature_set import FeatureSetError

if TYPE_CHECKING:
    import pandas as pd

FEATURE_TIME = "feature_event_time"  # the event time of the feature row each label got, to audit staleness


def as_of_join(
    labels: pd.DataFrame,
    features: pd.DataFrame,
    entity_key: list[str],
    label_time: str,
    feature_time: str,
    inclusive: bool = True,
) -> pd.DataFrame:
    """For each label row, the latest feature row of the same entity with event time <= the label's time.

    A DuckDB ASOF LEFT JOIN: labels keep order and count; a label with no earlier feature row gets nulls.
    With inclusive=False a feature stamped exactly at the label's time is excluded too.

    Returns:
        labels' columns, then the feature columns, then `feature_event_time`.
    """
    import duckdb
    from pandas.api import types

    for column in (*entity_key, label_time):
        if column not in labels.columns:
            raise FeatureSetError(
                f"labels: column {column!r} is missing (needed to join on); labels have {list(labels.columns)}"
            )
    for column in (*entity_key, feature_time):
        if column not in features.columns:
            raise FeatureSetError(f"features: column {column!r} is missing; features have {list(features.columns)}")
    value_columns = [c for c in features.columns if c not in (*entity_key, feature_time)]
    clash = [c for c in (*value_columns, FEATURE_TIME) if c in labels.columns]
    if clash:
        raise FeatureSetError(
            f"labels already have a column {clash[0]!r} that the features would add; rename it in the labels"
        )
    label_is_time = types.is_datetime64_any_dtype(labels[label_time].dtype)
    feature_is_time = types.is_datetime64_any_dtype(features[feature_time].dtype)
    if label_is_time != feature_is_time:
        raise FeatureSetError(
            f"labels column {label_time!r} ({labels[label_time].dtype}) and features column "
            f"{feature_time!r} ({features[feature_time].dtype}) are not comparable times; "
            "give both as datetimes or both as epoch numbers"
        )
    op = ">=" if inclusive else ">"
    on = " AND ".join(f"l.{_q(k)} = f.{_q(k)}" for k in entity_key)
    picked = ", ".join(f"f.{_q(c)}" for c in value_columns)
    row = "__greenpipe_label_row"
    with duckdb.connect() as con:
        con.register("labels_in", labels.reset_index(drop=True).assign(**{row: range(len(labels))}))
        con.register("features_in", features)
        # preserve labels' order with an explicit row number: an ASOF join may reorder
        joined = con.execute(
            f"SELECT l.* EXCLUDE ({row}), {picked}, f.{_q(feature_time)} AS {FEATURE_TIME} "
            f"FROM labels_in l "
            f"ASOF LEFT JOIN features_in f ON {on} AND l.{_q(label_time)} {op} f.{_q(feature_time)} "
            f"ORDER BY l.{row}"
        ).df()
    return joined


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'

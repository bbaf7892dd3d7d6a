"""SageMaker Feature Store adapter: the same dedup rule (one feature group per fingerprint) on AWS.

Requests are plain dicts, deterministic (no timestamps, no random names), so tests validate them against
botocore's service models. Clients are passed in (boto3 `sagemaker` and `sagemaker-featurestore-runtime`);
this module imports neither boto3 nor sagemaker.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from greenpipe.components.feature_dedup.feature_set import FeatureSet, FeatureSetError, feature_type, validate_frame

if TYPE_CHECKING:
    import pandas as pd

FINGERPRINT_TAG = "greenpipe:fingerprint"
ISO_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # trimmed to milliseconds: yyyy-MM-dd'T'HH:mm:ss.SSSZ


def feature_group_name(feature_set: FeatureSet) -> str:
    """A FeatureGroupName (letters, digits, '-' and '_', at most 64) for a feature set and version."""
    base = re.sub(r"[^a-zA-Z0-9]+", "-", feature_set.name).strip("-") or "features"
    return f"{base[:58]}-v{feature_set.version}"


def feature_definitions(frame: pd.DataFrame, event_time: str) -> list[dict[str, str]]:
    """FeatureDefinitions from the frame's dtypes; the event time is a String (ISO-8601) or Fractional."""
    definitions = []
    for column in frame.columns:
        if not re.fullmatch(r"[a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,63}", str(column)):
            raise FeatureSetError(
                f"column {column!r} is not a valid SageMaker feature name (letters, digits, "
                "'-' or '_' between them, at most 64): rename it"
            )
        kind = feature_type(frame[column])
        if column == event_time and kind == "Integral":
            kind = "Fractional"  # SageMaker takes an event time as Fractional epoch seconds or an ISO String
        if kind is None:
            raise FeatureSetError(
                f"column {column!r} has dtype {frame[column].dtype} that no SageMaker feature "
                "type (Integral, Fractional, String) can hold; convert it"
            )
        definitions.append({"FeatureName": str(column), "FeatureType": kind})
    return definitions


def create_feature_group_request(
    feature_set: FeatureSet,
    frame: pd.DataFrame,
    fingerprint: str,
    s3_uri: str,
    role_arn: str,
    kms_key_id: str | None = None,
    online_store: bool = False,
) -> dict[str, Any]:
    """The CreateFeatureGroup request for a computed feature set, its fingerprint in a tag and the description.

    Args:
        frame: the features (entity key, event time, feature columns); only its dtypes are read.
        s3_uri: offline store location, e.g. "s3://bucket/features".
        kms_key_id: optional KMS key for the offline store.
        online_store: also create an online store (low-latency reads; costs more while it exists).
    """
    if len(feature_set.keys) != 1:
        raise FeatureSetError(
            f"feature set {feature_set.name}: SageMaker Feature Store takes one record "
            f"identifier, entity_key has {feature_set.keys}; combine them into one column"
        )
    validate_frame(frame, feature_set.keys, feature_set.event_time, what=f"feature set {feature_set.name}")
    s3: dict[str, Any] = {"S3Uri": s3_uri}
    if kms_key_id:
        s3["KmsKeyId"] = kms_key_id
    name = feature_group_name(feature_set)
    request: dict[str, Any] = {
        "FeatureGroupName": name,
        "RecordIdentifierFeatureName": feature_set.keys[0],
        "EventTimeFeatureName": feature_set.event_time,
        "FeatureDefinitions": feature_definitions(frame, feature_set.event_time),
        "OfflineStoreConfig": {"S3StorageConfig": s3, "DisableGlueTableCreation": False},
        "RoleArn": role_arn,
        "Description": f"greenpipe {fingerprint} {feature_set.name}"[:128],
        "Tags": [{"Key": FINGERPRINT_TAG, "Value": fingerprint}],
    }
    if online_store:
        request["OnlineStoreConfig"] = {"EnableOnlineStore": True}
    return request


def search_request(fingerprint: str) -> dict[str, Any]:
    """A Search request for the feature group tagged with this fingerprint."""
    return {
        "Resource": "FeatureGroup",
        "SearchExpression": {
            "Filters": [{"Name": f"Tags.{FINGERPRINT_TAG}", "Operator": "Equals", "Value": fingerprint}]
        },
        "MaxResults": 1,
    }


def put_record_requests(group_name: str, frame: pd.DataFrame, batch_size: int = 1000) -> Iterator[list[dict[str, Any]]]:
    """PutRecord requests, `batch_size` rows at a time; null values are left out of a record."""
    from pandas.api import types

    for start in range(0, len(frame), batch_size):
        chunk = frame.iloc[start : start + batch_size]
        columns: dict[str, list[str | None]] = {}
        for column in chunk.columns:
            series = chunk[column]
            if types.is_datetime64_any_dtype(series.dtype):
                utc = series.dt.tz_convert("UTC") if series.dt.tz is not None else series
                text = utc.dt.strftime(ISO_FORMAT).str.slice(0, 23) + "Z"
            elif types.is_bool_dtype(series.dtype):
                text = series.astype("Int64").astype(str)
            elif types.is_float_dtype(series.dtype):
                text = series.map(repr)
            else:
                text = series.astype(str)
            present = series.notna().tolist()
            columns[str(column)] = [v if ok else None for v, ok in zip(text.tolist(), present, strict=True)]
        batch = []
        for i in range(len(chunk)):
            record = [{"FeatureName": c, "ValueAsString": v[i]} for c, v in columns.items() if v[i] is not None]
            batch.append({"FeatureGroupName": group_name, "Record": record})
        yield batch


class SageMakerFeatureStore:
    """Find, create and fill feature groups keyed by greenpipe fingerprints.

    Args:
        sagemaker: a boto3 "sagemaker" client.
        runtime: a boto3 "sagemaker-featurestore-runtime" client.
    """

    def __init__(self, sagemaker: Any, runtime: Any):
        self.sagemaker = sagemaker
        self.runtime = runtime

    def find(self, fingerprint: str) -> str | None:
        """The name of the feature group holding this fingerprint, or None (one Search call)."""
        results = self.sagemaker.search(**search_request(fingerprint)).get("Results", [])
        return str(results[0]["FeatureGroup"]["FeatureGroupName"]) if results else None

    def create(
        self,
        feature_set: FeatureSet,
        frame: pd.DataFrame,
        fingerprint: str,
        s3_uri: str,
        role_arn: str,
        kms_key_id: str | None = None,
        online_store: bool = False,
    ) -> str:
        """Create the feature group unless one already holds the fingerprint; return its name."""
        found = self.find(fingerprint)
        if found is not None:
            return found
        request = create_feature_group_request(
            feature_set, frame, fingerprint, s3_uri, role_arn, kms_key_id, online_store
        )
        self.sagemaker.create_feature_group(**request)
        return str(request["FeatureGroupName"])

    def ingest(self, group_name: str, frame: pd.DataFrame, batch_size: int = 1000) -> int:
        """PutRecord every row, batch by batch; return how many records were put."""
        put = 0
        for batch in put_record_requests(group_name, frame, batch_size):
            for request in batch:
                self.runtime.put_record(**request)
                put += 1
        return put

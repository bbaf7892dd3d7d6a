"""feature_dedup: compute a feature set once, share it across names, dedup rows, join point-in-time, SageMaker."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from pathlib import Path

import botocore.session
import numpy as np
import pandas as pd
import pytest
from botocore.stub import Stubber
from botocore.validate import ParamValidator

from greenpipe import Dataset, pipeline
from greenpipe.components.feature_dedup import STEPS, feature_dedup, training_set
from greenpipe.components.feature_dedup.catalog import FeatureCatalog
from greenpipe.components.feature_dedup.feature_set import FeatureSet, FeatureSetError
from greenpipe.components.feature_dedup.feature_store import FeatureStore
from greenpipe.components.feature_dedup.point_in_time import FEATURE_TIME, as_of_join
from greenpipe.components.feature_dedup.sagemaker_feature_store import (
    FINGERPRINT_TAG,
    SageMakerFeatureStore,
    create_feature_group_request,
    put_record_requests,
    search_request,
)
from greenpipe.runner import Runner
from greenpipe.store import Store

CALLS: list[int] = []  # how many rows each transform call saw: proves a hit did not run it


def rolling_mean(frame: pd.DataFrame, window: int = 3) -> pd.DataFrame:
    """Per entity: mean of `value` over the last `window` rows, and the row count so far."""
    CALLS.append(len(frame))
    frame = frame.sort_values(["entity", "ts"])
    out = frame[["entity", "ts"]].copy()
    grouped = frame.groupby("entity")["value"]
    out["mean_value"] = grouped.transform(lambda s: s.rolling(window, min_periods=1).mean())
    out["seen"] = frame.groupby("entity").cumcount() + 1
    return out


def scaled(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(scaled=frame["value"] * 2)[["entity", "ts", "scaled"]]


def drop_key(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=["entity"])


def drop_time(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=["ts"])


def list_column(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(tags=[[1, 2]] * len(frame))


def empty(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.iloc[0:0]


ROLLING = f"{__name__}:rolling_mean"
DAYS = pd.date_range("2024-01-01", periods=15, freq="D")


def source(tmp_path: Path, first: int = 0, last: int = 15, name: str | None = None) -> Path:
    rows = [(e, d, float(i * (2 if e == "b" else 1))) for e in ("a", "b") for i, d in enumerate(DAYS)]
    frame = pd.DataFrame(rows, columns=["entity", "ts", "value"])
    frame = frame[(frame.ts >= DAYS[first]) & (frame.ts < DAYS[last - 1] + pd.Timedelta(hours=1))]
    path = tmp_path / (name or f"source_{first}_{last}.parquet")
    frame.reset_index(drop=True).to_parquet(path)
    return path


def rolling_set(name: str = "rolling", version: int = 1, window: int = 3) -> FeatureSet:
    return FeatureSet(name, ROLLING, ["entity"], "ts", params={"window": window}, version=version)


@pipeline(name="team_a")
def team_a(source: Dataset, name: str = "team_a_rolling") -> None:
    feature_dedup(
        data=source,
        name=name,
        transform=ROLLING,
        entity_key=["entity"],
        event_time="ts",
        transform_params={"window": 3},
    )


@pipeline(name="team_b")
def team_b(source: Dataset, labels: Dataset) -> None:
    feats = feature_dedup(
        data=source,
        name="team_b_rolling",
        transform=ROLLING,
        entity_key=["entity"],
        event_time="ts",
        transform_params={"window": 3},
    )
    training_set(
        labels=labels, features=feats.outputs["features"], entity_key=["entity"], label_time="ts", feature_time="ts"
    )


def snapshot(home: Path) -> dict[str, str]:
    """Every file under features/ with its content hash, and every catalog row."""
    files = {
        str(p.relative_to(home)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((home / "features").rglob("*.parquet"))
    }
    db = sqlite3.connect(home / "greenpipe.db")
    for table in ("feature_dedup_sets", "feature_dedup_parts", "feature_dedup_names", "feature_dedup_groups"):
        files[table] = repr(sorted(db.execute(f"SELECT * FROM {table}").fetchall()))
    db.close()
    return files


# -- compute once, share across teams -------------------------------------------------------------------------


def test_two_pipelines_share_one_stored_copy_and_the_hit_credits_measured_energy(tmp_path):
    src = source(tmp_path)
    labels = tmp_path / "labels.parquet"
    pd.DataFrame({"entity": ["a", "b"], "ts": [DAYS[4], DAYS[9]], "y": [1, 0]}).to_parquet(labels)
    store = Store(tmp_path / "home")
    CALLS.clear()

    first = Runner(team_a, {"source": str(src)}, store=store).run()
    second = Runner(team_b, {"source": str(src), "labels": str(labels)}, store=store).run()

    a, b = first.step("feature_dedup"), second.step("feature_dedup")
    assert (a.status, a.values["hit"]) == ("ran", False)
    assert (b.status, b.values["hit"]) == ("ran", True)  # another name, so the engine cache missed; dedup hit
    assert CALLS == [30]  # the transform ran once, for team a
    assert a.outputs["features"] == b.outputs["features"]
    parts = list((tmp_path / "home" / "features").rglob("part-*.parquet"))
    assert len(parts) == 1
    names = (
        sqlite3.connect(tmp_path / "home" / "greenpipe.db")
        .execute("SELECT name, group_id FROM feature_dedup_names ORDER BY name")
        .fetchall()
    )
    assert [n for n, _ in names] == ["team_a_rolling", "team_b_rolling"] and names[0][1] == names[1][1]
    credits = store.credits_of(b.exec_id)
    measured = store.query("SELECT energy_kwh, exec_id FROM feature_dedup_sets")[0]
    assert [c["kind"] for c in credits] == ["dedup"]
    assert credits[0]["energy_kwh"] == pytest.approx(measured["energy_kwh"]) and measured["energy_kwh"] > 0
    assert f"exec:{a.exec_id}" in credits[0]["traced_to"] and measured["exec_id"] == a.exec_id
    assert second.step("training_set").values == {"rows": 2, "matched_rows": 2}


def test_changed_params_or_source_content_miss(tmp_path):
    fs = FeatureStore(tmp_path / "home")
    src = source(tmp_path)
    assert not fs.get_or_compute(rolling_set(), src).hit
    assert fs.get_or_compute(rolling_set(), src).hit
    assert not fs.get_or_compute(rolling_set(name="wide", window=5), src).hit
    pd.read_parquet(src).assign(value=lambda f: f.value + 1).to_parquet(src)  # same path, new content
    assert not fs.get_or_compute(rolling_set(), src).hit


def test_same_name_with_another_transform_is_refused_unless_a_new_version_is_asked(tmp_path):
    fs = FeatureStore(tmp_path / "home")
    src = source(tmp_path)
    fs.get_or_compute(rolling_set(), src)
    other = FeatureSet("rolling", f"{__name__}:scaled", ["entity"], "ts")
    with pytest.raises(FeatureSetError, match=r"'rolling' version 1 is already declared.*version=2"):
        fs.get_or_compute(other, src)
    with pytest.raises(FeatureSetError, match="version=2"):
        fs.get_or_compute(rolling_set(window=7), src)  # other params are another transform too
    v2 = FeatureSet("rolling", f"{__name__}:scaled", ["entity"], "ts", version=2)
    assert not fs.get_or_compute(v2, src).hit
    assert list(fs.read("rolling").columns) == ["entity", "ts", "scaled"]  # the latest version
    assert list(fs.read("rolling", version=1).columns) == ["entity", "ts", "mean_value", "seen"]


def test_lookup_is_a_primary_key_probe(tmp_path):
    catalog = FeatureCatalog(Store(tmp_path / "home").create())
    plan = (
        catalog.store.connection()
        .execute("EXPLAIN QUERY PLAN SELECT * FROM feature_dedup_sets WHERE fingerprint=?", ("fd:x",))
        .fetchall()
    )
    assert "USING INDEX sqlite_autoindex_feature_dedup_sets_1 (fingerprint=?)" in plan[0]["detail"]


def test_deleted_part_is_recomputed_not_a_broken_hit(tmp_path):
    fs = FeatureStore(tmp_path / "home")
    src = source(tmp_path)
    stored = fs.get_or_compute(rolling_set(), src).stored
    (tmp_path / "home" / stored.parts[0]).unlink()
    again = fs.get_or_compute(rolling_set(), src)
    assert not again.hit and again.ingest.written == 30
    assert len(pd.read_parquet(fs.materialize(again.stored, tmp_path / "out.parquet"))) == 30


# -- ingest dedup ------------------------------------------------------------------------------------------------


def test_reingesting_overlapping_data_writes_only_new_rows(tmp_path):
    fs = FeatureStore(tmp_path / "home")
    early = fs.get_or_compute(rolling_set(), source(tmp_path, 0, 10))
    grown = fs.get_or_compute(rolling_set(), source(tmp_path, 0, 15))
    assert (early.ingest.written, early.ingest.skipped) == (20, 0)
    assert (grown.ingest.written, grown.ingest.skipped, grown.ingest.conflicts) == (10, 20, 0)
    stored = fs.read("rolling")
    assert len(stored) == 30 and not stored.duplicated(["entity", "ts"]).any()
    out = pd.read_parquet(fs.materialize(grown.stored, tmp_path / "grown.parquet"))
    assert len(out) == 30 and set(out.ts) == set(DAYS)
    # a later window (days 5-14): nothing new to write; the output holds just its own rows
    late = fs.get_or_compute(rolling_set(), source(tmp_path, 5, 15))
    assert (late.ingest.written, late.ingest.skipped) == (0, 20)
    assert late.ingest.conflicts == 20  # with 5 days less history its `seen` counts differ: stored ones kept
    out = pd.read_parquet(fs.materialize(late.stored, tmp_path / "late.parquet"))
    assert len(out) == 20 and out.ts.min() == DAYS[5]
    hit = fs.get_or_compute(rolling_set(), source(tmp_path, 5, 15, name="late_again.parquet"))
    assert hit.hit and len(pd.read_parquet(fs.materialize(hit.stored, tmp_path / "hit.parquet"))) == 20


def test_direct_ingest_skips_rows_repeated_in_the_frame(tmp_path):
    fs = FeatureStore(tmp_path / "home")
    fset = FeatureSet("clicks", f"{__name__}:scaled", ["entity"], "ts")
    frame = pd.DataFrame({"entity": ["a", "a", "b"], "ts": [DAYS[0], DAYS[0], DAYS[0]], "scaled": [1.0, 1.0, 2.0]})
    first = fs.ingest(fset, frame)
    assert (first.written, first.skipped) == (2, 1)
    more = pd.DataFrame({"entity": ["a", "c"], "ts": [DAYS[0], DAYS[1]], "scaled": [1.0, 3.0]})
    second = fs.ingest(fset, more)
    assert (second.written, second.skipped) == (1, 1)
    assert sorted(fs.read("clicks").entity) == ["a", "b", "c"]


# -- bad input ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("transform", "message"),
    [
        ("drop_key", "entity_key column 'entity' is missing"),
        ("drop_time", "event_time column 'ts' is missing"),
        ("list_column", "column 'tags' has dtype object"),
        ("empty", "the frame is empty"),
    ],
)
def test_bad_transform_output_names_the_column_and_touches_nothing(tmp_path, transform, message):
    fs = FeatureStore(tmp_path / "home")
    src = source(tmp_path)
    fs.get_or_compute(rolling_set(), src)
    fs.get_or_compute(rolling_set(), source(tmp_path, 0, 15, name="other.parquet"))
    before = snapshot(tmp_path / "home")
    bad = FeatureSet("bad", f"{__name__}:{transform}", ["entity"], "ts")
    with pytest.raises(FeatureSetError, match=re.escape(message)):
        fs.get_or_compute(bad, src)
    assert snapshot(tmp_path / "home") == before


def test_bad_declaration_and_bad_import_path_are_clear():
    with pytest.raises(FeatureSetError, match="entity_key"):
        FeatureSet("x", ROLLING, [], "ts")
    with pytest.raises(FeatureSetError, match="event_time='ts' is also in entity_key"):
        FeatureSet("x", ROLLING, ["ts"], "ts")
    with pytest.raises(FeatureSetError, match="not an import path"):
        FeatureSet("x", "rolling_mean", ["entity"], "ts").transform_fn()


# -- point in time -----------------------------------------------------------------------------------------------


def balances() -> tuple[pd.DataFrame, pd.DataFrame]:
    t = pd.Timestamp("2024-03-01")
    features = pd.DataFrame(
        {
            "entity": ["acct", "acct", "acct", "other"],
            "ts": [t + pd.Timedelta(days=d) for d in (1, 3, 5, 0)],
            "balance": [10.0, 30.0, 50.0, 99.0],
        }
    )
    labels = pd.DataFrame(
        {
            "entity": ["acct", "acct", "acct", "acct", "other"],
            "ts": [t + pd.Timedelta(days=d) for d in (6, 2, 4, 0, 3)],
            "churned": [0, 1, 1, 0, 1],
        }
    )
    return labels, features


def test_training_reads_are_point_in_time_and_leakage_would_change_them():
    labels, features = balances()
    joined = as_of_join(labels, features, ["entity"], "ts", "ts")
    assert joined["churned"].tolist() == labels["churned"].tolist()  # labels keep their order
    assert joined["balance"].tolist()[:3] == [50.0, 10.0, 30.0] and np.isnan(joined["balance"][3])
    assert (joined[FEATURE_TIME].dropna() <= joined["ts"][joined[FEATURE_TIME].notna()]).all()
    latest = labels.merge(features.sort_values("ts").groupby("entity").tail(1)[["entity", "balance"]], on="entity")
    assert latest["balance"].tolist() != joined["balance"].tolist()  # a leaky join gives other training data


def test_a_feature_stamped_at_the_label_time_is_excluded_when_not_inclusive():
    labels, features = balances()
    at = labels.assign(ts=features["ts"][1])  # every label exactly at the 30.0 update of acct
    assert as_of_join(at, features, ["entity"], "ts", "ts")["balance"][0] == 30.0
    assert as_of_join(at, features, ["entity"], "ts", "ts", inclusive=False)["balance"][0] == 10.0


def test_training_set_step_and_store_read_agree(tmp_path):
    labels, features = balances()
    fs = FeatureStore(tmp_path / "home")
    fs.ingest(FeatureSet("balances", f"{__name__}:scaled", ["entity"], "ts"), features)
    from_store = fs.training_frame(labels, "balances", "ts")
    labels.to_parquet(tmp_path / "labels.parquet")
    features.to_parquet(tmp_path / "features.parquet")
    out = Dataset(tmp_path / "training.parquet")
    result = training_set(
        Dataset(tmp_path / "labels.parquet"),
        Dataset(tmp_path / "features.parquet"),
        out,
        ["entity"],
        "ts",
        "ts",
    )
    assert result.rows == 5 and result.matched_rows == 4
    pd.testing.assert_frame_equal(pd.read_parquet(out.path), from_store)


def test_steps_are_listed_and_typed():
    assert [s.name for s in STEPS] == ["feature_dedup", "training_set"]
    spec = feature_dedup.spec
    assert [i.name for i in spec.inputs] == ["data"] and [o.name for o in spec.outputs] == ["features"]
    assert [v.name for v in spec.values] == ["hit", "rows", "skipped_rows", "fingerprint"]


# -- SageMaker Feature Store -------------------------------------------------------------------------------------

ROLE = "arn:aws:iam::123456789012:role/greenpipe-features"
FP = "fd:0123456789abcdef0123456789abcdef"


def clients():
    session = botocore.session.get_session()
    kwargs = {"region_name": "us-east-1", "aws_access_key_id": "x", "aws_secret_access_key": "x"}
    return session.create_client("sagemaker", **kwargs), session.create_client(
        "sagemaker-featurestore-runtime", **kwargs
    )


def check_shape(value, shape, path="request"):
    """botocore's ParamValidator skips enums and patterns; check those too (\\p classes approximated)."""
    if shape.type_name == "structure":
        for key, item in value.items():
            check_shape(item, shape.members[key], f"{path}.{key}")
    elif shape.type_name == "list":
        for i, item in enumerate(value):
            check_shape(item, shape.member, f"{path}[{i}]")
    elif shape.type_name == "string":
        meta = shape.metadata
        if "enum" in meta:
            assert value in meta["enum"], f"{path}={value!r} not in {meta['enum']}"
        if "pattern" in meta:
            pattern = meta["pattern"].replace(r"\p{L}", "a-zA-Z").replace(r"\p{Z}", " ").replace(r"\p{N}", "0-9")
            assert re.fullmatch(pattern, value), f"{path}={value!r} does not match {meta['pattern']}"
        assert meta.get("min", 0) <= len(value) <= meta.get("max", 10**9), f"{path} length {len(value)}"


def validate(service: str, operation: str, params: dict) -> None:
    model = botocore.session.get_session().get_service_model(service).operation_model(operation)
    report = ParamValidator().validate(params, model.input_shape)
    assert not report.has_errors(), report.generate_report()
    check_shape(params, model.input_shape)


def feature_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3"],
            "event_time": pd.to_datetime(
                ["2024-01-01T10:00:00", "2024-01-02T11:30:00.250", "2024-01-03T00:00:00"], utc=True, format="ISO8601"
            ),
            "spend_7d": [12.5, None, 3.0],
            "orders": np.array([1, 2, 3], dtype="int64"),
            "is_new": [True, False, True],
        }
    )


def customer_set() -> FeatureSet:
    return FeatureSet("customer spend", ROLLING, ["customer_id"], "event_time")


def test_create_feature_group_request_is_valid_for_botocore_with_kms_and_online_store():
    request = create_feature_group_request(
        customer_set(),
        feature_frame(),
        FP,
        "s3://bucket/features",
        ROLE,
        kms_key_id="alias/features",
        online_store=True,
    )
    validate("sagemaker", "CreateFeatureGroup", request)
    assert request["FeatureGroupName"] == "customer-spend-v1"
    assert {d["FeatureName"]: d["FeatureType"] for d in request["FeatureDefinitions"]} == {
        "customer_id": "String",
        "event_time": "String",
        "spend_7d": "Fractional",
        "orders": "Integral",
        "is_new": "Integral",
    }
    assert request["OfflineStoreConfig"]["S3StorageConfig"]["KmsKeyId"] == "alias/features"
    assert request["OnlineStoreConfig"] == {"EnableOnlineStore": True}
    assert {"Key": FINGERPRINT_TAG, "Value": FP} in request["Tags"] and FP in request["Description"]
    plain = create_feature_group_request(customer_set(), feature_frame(), FP, "s3://bucket/features", ROLE)
    assert "OnlineStoreConfig" not in plain and "KmsKeyId" not in plain["OfflineStoreConfig"]["S3StorageConfig"]
    assert plain == create_feature_group_request(customer_set(), feature_frame(), FP, "s3://bucket/features", ROLE)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (feature_frame().drop(columns=["event_time"]), "event_time column 'event_time' is missing"),
        (feature_frame().assign(blob=[{"a": 1}] * 3), "column 'blob' has dtype object"),
        (feature_frame().iloc[0:0], "the frame is empty"),
        (feature_frame().rename(columns={"orders": "orders count"}), "'orders count' is not a valid SageMaker"),
    ],
)
def test_bad_frames_for_sagemaker_name_the_column(frame, message):
    with pytest.raises(FeatureSetError, match=re.escape(message)):
        create_feature_group_request(customer_set(), frame, FP, "s3://bucket/features", ROLE)


def test_adapter_searches_creates_and_puts_records_through_stubbed_clients():
    sm, rt = clients()
    frame = feature_frame()
    request = create_feature_group_request(customer_set(), frame, FP, "s3://bucket/features", ROLE)
    validate("sagemaker", "Search", search_request(FP))
    records = [r for batch in put_record_requests("customer-spend-v1", frame, batch_size=2) for r in batch]
    for record in records:
        validate("sagemaker-featurestore-runtime", "PutRecord", record)
    assert [len(b) for b in put_record_requests("customer-spend-v1", frame, batch_size=2)] == [2, 1]
    assert records[1]["Record"] == [  # a null feature is left out; times are UTC ISO-8601 with milliseconds
        {"FeatureName": "customer_id", "ValueAsString": "c2"},
        {"FeatureName": "event_time", "ValueAsString": "2024-01-02T11:30:00.250Z"},
        {"FeatureName": "orders", "ValueAsString": "2"},
        {"FeatureName": "is_new", "ValueAsString": "0"},
    ]
    arn = "arn:aws:sagemaker:us-east-1:123456789012:feature-group/customer-spend-v1"
    with Stubber(sm) as sm_stub, Stubber(rt) as rt_stub:
        sm_stub.add_response("search", {"Results": []}, search_request(FP))
        sm_stub.add_response("create_feature_group", {"FeatureGroupArn": arn}, request)
        sm_stub.add_response(
            "search", {"Results": [{"FeatureGroup": {"FeatureGroupName": "customer-spend-v1"}}]}, search_request(FP)
        )
        for record in records:
            rt_stub.add_response("put_record", {}, record)
        adapter = SageMakerFeatureStore(sm, rt)
        assert adapter.create(customer_set(), frame, FP, "s3://bucket/features", ROLE) == "customer-spend-v1"
        assert adapter.create(customer_set(), frame, FP, "s3://bucket/features", ROLE) == "customer-spend-v1"
        assert adapter.ingest("customer-spend-v1", frame, batch_size=2) == 3
        sm_stub.assert_no_pending_responses()
        rt_stub.assert_no_pending_responses()


def test_adapter_under_moto_finds_the_group_by_its_fingerprint_tag(monkeypatch):
    moto = pytest.importorskip("moto")
    import boto3

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with moto.mock_aws():
        sm = boto3.client("sagemaker", region_name="us-east-1")
        adapter = SageMakerFeatureStore(sm, runtime=None)
        assert adapter.find(FP) is None
        name = adapter.create(customer_set(), feature_frame(), FP, "s3://bucket/features", ROLE)
        assert adapter.find(FP) == name
        assert adapter.find("fd:ffffffffffffffffffffffffffffffff") is None
        # a second team with the same fingerprint gets the same group; moto would refuse a second create
        other = FeatureSet("team b spend", ROLLING, ["customer_id"], "event_time")
        assert adapter.create(other, feature_frame(), FP, "s3://bucket/features", ROLE) == name
        described = sm.describe_feature_group(FeatureGroupName=name)
        assert described["RecordIdentifierFeatureName"] == "customer_id"

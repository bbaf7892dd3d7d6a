"""drift_gate evaluates its baseline's great_expectations suite itself; the outcome must equal GE's own."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from greenpipe import Artifact, Dataset, Report
from greenpipe.components.drift_gate import drift_baseline, drift_gate
from greenpipe.components.drift_gate.batch import Batch, count_nulls, counts, floats
from greenpipe.components.drift_gate.quality import QualityResult, validate
from greenpipe.components.drift_gate.suite_check import check_column, check_table, split_suite


def _train(rows: int = 4_000) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "price": rng.normal(10, 2, rows),
            "count": rng.integers(0, 50, rows),
            "colour": rng.choice(["red", "blue", "green"], rows, p=[0.5, 0.3, 0.2]),
        }
    )


def _batches(train: pd.DataFrame) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(1)
    good = train.sample(2_000, random_state=1).reset_index(drop=True)
    far = good.assign(price=good["price"] + np.where(rng.random(len(good)) < 0.05, 100.0, 0.0))
    nulls = good.copy()
    nulls.loc[:300, "price"] = np.nan
    colours = good.assign(colour=np.where(rng.random(len(good)) < 0.03, "purple", good["colour"]))
    return {"good": good, "far": far, "nulls": nulls, "colours": colours}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("quality")
    _train().to_parquet(folder / "train.parquet", index=False)
    drift_baseline(Dataset(folder / "train.parquet"), Artifact(folder / "baseline"))
    return folder


def test_suite_outcomes_equal_great_expectations_validation(baseline):
    suite = json.loads((baseline / "baseline" / "expectations.json").read_text())
    mine, theirs = split_suite(suite)
    assert not theirs  # a drift baseline's suite holds only the types the gate evaluates itself
    document = json.loads((baseline / "baseline" / "baseline.json").read_text())
    for name, frame in _batches(_train()).items():
        frame.to_parquet(baseline / f"{name}.parquet", index=False)
        batch = Batch(baseline / f"{name}.parquet")
        ours = check_table([e for es in mine.values() for e in es], batch.rows, batch.columns)
        for column in document["columns"]:
            numeric = document["columns"][column]["kind"] == "numeric"
            chunked = batch.read(column)
            ours += check_column(
                mine.get(column, []),
                column,
                batch.rows,
                count_nulls(chunked),
                batch.dtype_name(column, count_nulls(chunked)),
                ordered=np.sort(floats(chunked)) if numeric else None,
                counts=None if numeric else counts(chunked),
            )
        theirs_result = validate(suite, pd.read_parquet(baseline / f"{name}.parquet"), QualityResult(ok=True))
        ours_failed = sorted(f"{o.column}:{o.kind}:{o.unexpected_percent or 0:.4f}" for o in ours if not o.success)
        assert len(ours) == theirs_result.evaluated, name
        # GE's failure sentences carry the same column, expectation and unexpected percentage
        assert len(ours_failed) == len(theirs_result.failures), (name, ours_failed, theirs_result.failures)
        for failure in ours_failed:
            column, kind, percent = failure.split(":")
            words = kind.removeprefix("expect_").replace("_", " ")
            assert any(
                f"column {column}: {words} failed for {float(percent):.2f}% of values" in f
                for f in theirs_result.failures
            ), (name, failure, theirs_result.failures)
        assert (name == "good") == (not ours_failed), name


def test_an_expectation_the_gate_does_not_evaluate_runs_in_great_expectations(baseline):
    import shutil

    shutil.copytree(baseline / "baseline", baseline / "extended")
    path = baseline / "extended" / "expectations.json"
    suite = json.loads(path.read_text())
    suite["expectations"].append(
        {"type": "expect_column_mean_to_be_between", "kwargs": {"column": "price", "min_value": 9, "max_value": 11}}
    )
    path.write_text(json.dumps(suite))
    good = _batches(_train())["good"]
    for name, frame in (("mean_ok", good), ("mean_off", good.assign(price=good["price"] + 1.5))):
        frame.to_parquet(baseline / f"{name}.parquet", index=False)
        drift_gate(
            Dataset(baseline / f"{name}.parquet"),
            Artifact(baseline / "extended"),
            Artifact(baseline / f"{name}.json"),
            Report(baseline / f"{name}.html"),
        )
    ok = json.loads((baseline / "mean_ok.json").read_text())["quality"]
    off = json.loads((baseline / "mean_off.json").read_text())["quality"]
    assert ok["ok"] and ok["expectations_evaluated"] == len(suite["expectations"])
    assert not off["ok"] and any("column price: column mean to be between failed" in f for f in off["failures"])

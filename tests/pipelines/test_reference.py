"""The reference pipelines as a newcomer meets them: train, rerun from cache, plan a change, retrain on drift."""

from __future__ import annotations

import json

import pytest

FAST = ["--param", "periods=8", "--param", "max_trials=4", "--param", "max_epochs=10"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One store in which `train` ran once (shared by the tests below: training is the slow part)."""
    from cli_runs import CLI

    root = tmp_path_factory.mktemp("reference")
    cli = CLI(root / "home", root)
    first = cli.json("run", "train", *FAST, timeout=300)  # 13 steps, each measured: over 120 s on a loaded machine
    return cli, first


def _status(doc):
    return {s["name"]: s["status"] for s in doc["steps"]}


def _step(doc, name):
    return next(s for s in doc["steps"] if s["name"] == name)


def test_train_runs_every_stage_and_registers_a_champion(trained):
    cli, first = trained
    assert first["status"] == "succeeded"
    assert list(_status(first)) == [
        "ingest_rainfall",
        "check_quality",
        "feature_dedup",
        "training_set",
        "time_split",
        "drift_baseline",
        "small_sample",
        "bayes_tune",
        "spot_train",
        "evaluate_classifier",
        "register",
        "compress",
        "register_compressed",
        "serve",
    ]
    assert set(_status(first).values()) == {"ran"}
    assert _step(first, "register")["values"]["promoted"] is True
    metrics = _step(first, "evaluate_classifier")["outputs"]["metrics"]
    accuracy = json.loads(next((cli.home / "objects").glob(f"*/{metrics.split(':')[-1]}")).read_text())["accuracy"]
    assert 0.6 < accuracy <= 1.0


def test_train_ends_with_a_compressed_registered_version_and_a_scored_daily_batch(trained):
    cli, first = trained
    packed = _step(first, "compress")["values"]
    assert packed["metric_drop_pts"] <= 0.5  # the pipeline's max_metric_drop
    version = _step(first, "register_compressed")["values"]["version"]
    assert version == (0 if packed["chosen"] == "original" else 2)  # after register's v1
    served = _step(first, "serve")
    assert served["values"]["mode"] == "batch_transform"  # the default profile: one batch a day
    scored = next((cli.home / "objects").glob(f"*/{served['outputs']['scored'].split(':')[-1]}"))
    import pandas as pd

    assert "prediction" in pd.read_parquet(scored).columns


def test_second_train_run_is_answered_by_the_cache_but_the_registry_check(trained):
    cli, first = trained
    again = cli.json("run", "train", *FAST)
    status = _status(again)
    assert status.pop("register") == "ran"  # the registry's state is not a function of inputs: always asked
    assert status.pop("register_compressed") == "ran"  # the same, for the compressed version
    assert set(status.values()) == {"cached"}
    assert _step(again, "register")["values"]["version"] == _step(first, "register")["values"]["version"]
    spent = sum(s["energy_wh"] for s in first["steps"] if s["name"] not in ("register", "register_compressed"))
    assert sum(s["avoided_wh"] for s in again["steps"]) == pytest.approx(spent)


def test_changing_one_training_param_reruns_that_stage_and_downstream_only(trained):
    cli, _ = trained
    plan = {s["name"]: s["action"] for s in cli.json("plan", "train", *FAST[:-1], "max_epochs=6")["steps"]}
    upstream = [
        "ingest_rainfall",
        "check_quality",
        "feature_dedup",
        "training_set",
        "time_split",
        "drift_baseline",
        "small_sample",
        "bayes_tune",
    ]
    assert all(plan[name] == "cached" for name in upstream)
    assert plan["spot_train"] == plan["evaluate_classifier"] == plan["register"] == "run"


def test_retrain_skips_when_nothing_drifted_and_credits_what_the_skip_avoided(trained):
    cli, _ = trained
    doc = cli.json("run", "retrain", "--param", "period=9", "--param", "kpi_floor=0.5", "--param", "drift_share=1.0")
    status = _status(doc)
    assert status["drift_gate"] == "ran" and status["spot_train"] == "skipped"
    spot = next(s for s in doc["steps"] if s["name"] == "spot_train")
    assert spot["reason"] == "condition drift_gate.retrain == True is false"
    assert spot["avoided_wh"] > 0  # what the last spot_train run measured
    # the gate read the champion's KPI on the periods it served since `train` (periods 0-7): 8 and 9
    assert _step(doc, "champion_history")["values"] == {"model_age": 1, "periods_scored": 2}
    decision_digest = _step(doc, "drift_gate")["outputs"]["decision"].split(":")[-1]
    decision = json.loads(next((cli.home / "objects").glob(f"*/{decision_digest}")).read_text())
    assert decision["kpi_cusum"]["model_age"] == 1 and decision["kpi_cusum"]["alarm"] is False
    assert decision["reasons"][0].startswith("KPI shortfall since training (CUSUM over 2 periods, model age 1)")


def test_retrain_retrains_when_the_kpi_drops_and_registers_a_new_version(trained):
    cli, _ = trained
    doc = cli.json("run", "retrain", "--param", "period=10", "--param", "kpi_floor=0.99", "--param", "max_epochs=5")
    status = _status(doc)
    assert status["drift_gate"] == "ran" and status["spot_train"] == "ran" and status["register"] == "ran"
    assert doc["steps"][-1]["values"]["version"] >= 2


def test_report_of_the_train_run_embeds_the_component_reports(trained, tmp_path):
    cli, first = trained
    out = tmp_path / "report.html"
    cli("report", first["run_id"], "--out", str(out))
    page = out.read_text()
    for embedded in (
        "small_sample.report",
        "check_quality.report",
        "bayes_tune.history (tuning history)",
        "register.card",
    ):
        assert embedded in page
    assert "data:image/png;base64," in page

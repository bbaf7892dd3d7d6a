"""gc frees what nobody uses and keeps what is pinned; show and runs report lineage and the ledger."""

import sqlite3

from cli_runs import statuses

from greenpipe.store import Store


def test_gc_frees_unused_artifacts_and_keeps_pinned_ones(cli):
    run = cli.json("run", "pipe.py:demo")
    store = Store(cli.home)
    make_out = store.outputs_of(next(s["exec_id"] for s in run["steps"] if s["name"] == "make"))["data"]
    store.pin(make_out, "test:keep")
    db = sqlite3.connect(cli.home / "greenpipe.db")
    db.execute("UPDATE cache SET last_used = last_used - 40 * 86400")
    db.execute("UPDATE artifacts SET created = created - 40 * 86400")
    db.commit()
    dry = cli.json("gc", "--older-than", "30d", "--dry-run")
    assert dry["artifacts_deleted"] == 2 and dry["bytes_freed"] > 0
    assert store.object_path(make_out).exists()
    report = cli.json("gc", "--older-than", "30d")
    assert report["bytes_freed"] == dry["bytes_freed"] and report["cache_entries_dropped"] == 4
    assert store.object_path(make_out).exists()  # pinned
    assert len(list((cli.home / "objects").glob("*/*"))) == 1
    assert set(statuses(cli.json("run", "pipe.py:demo")).values()) == {"ran"}


def test_show_gives_lineage_from_artifact_to_execution(cli):
    run = cli.json("run", "pipe.py:demo")
    doc = cli.json("show", run["run_id"])
    assert doc["run_id"] == run["run_id"] and doc["status"] == "succeeded"
    by_output = {item["output"]: item for item in doc["lineage"]}
    scale = by_output["scale.out"]
    assert scale["inputs"][0]["digest"] == by_output["make.data"]["artifact"]
    assert scale["inputs"][0]["from"] == f"exec:{by_output['make.data']['produced_by']}"
    latest = cli.json("show", "latest")
    assert latest["run_id"] == run["run_id"]
    text = cli("show", "latest").stdout
    assert "lineage" in text and "scale.out" in text


def test_runs_lists_each_run_with_its_energy(cli):
    cli("run", "pipe.py:demo")
    cli("run", "pipe.py:demo")
    runs = cli.json("runs")["runs"]
    assert [r["ran"] for r in runs] == [0, 4] and runs[1]["energy_wh"] > 0 and runs[0]["energy_wh"] == 0
    assert runs[0]["avoided_co2e_g"] > 0

"""SIGKILL at any moment leaves the store consistent; concurrent runs share one cache and compute once."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time

from cli_runs import statuses


def _wait_for(path, timeout=60.0):
    deadline = time.time() + timeout
    while not path.exists():
        assert time.time() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def test_sigkill_mid_step_then_rerun_finishes_only_what_was_left(cli, tmp_path):
    started = tmp_path / "scale-started"
    proc = cli.popen("run", "pipe.py:demo", env={"SCALE_SLEEP": "30", "SCALE_STARTED": str(started)})
    _wait_for(started)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)

    db = sqlite3.connect(cli.home / "greenpipe.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # no partial artifact is visible: every stored object is complete and indexed
    indexed = {r[0].split(":")[-1] for r in db.execute("SELECT digest FROM artifacts")}
    on_disk = {p.name for p in (cli.home / "objects").glob("*/*")}
    assert on_disk == indexed

    doc = cli.json("run", "pipe.py:demo")
    assert statuses(doc) == {"make": "cached", "scale": "ran", "check": "ran", "total": "ran"}
    killed = cli.json("runs")["runs"][-1]
    assert killed["status"] == "interrupted"


def test_sigkill_at_random_moments_never_corrupts(cli, tmp_path):
    for delay in (0.05, 0.3, 0.6, 0.9):
        proc = cli.popen("run", "pipe.py:demo", env={"SCALE_SLEEP": "0.2"})
        time.sleep(delay)
        proc.kill()
        proc.wait(timeout=30)
        if (cli.home / "greenpipe.db").exists():
            db = sqlite3.connect(cli.home / "greenpipe.db")
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            db.close()
    final = cli.json("run", "pipe.py:demo")
    assert final["status"] == "succeeded"
    assert cli.json("run", "pipe.py:demo")["totals"]["ran"] == 0


def test_two_runs_started_together_both_succeed_and_compute_once(cli, tmp_path):
    log = tmp_path / "scale.log"
    env = {"SCALE_SLEEP": "1.5", "SCALE_LOG": str(log)}
    procs = [cli.popen("run", "pipe.py:demo", "--json", env=env) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert log.read_text().count("scale") == 1  # the second run waited for the first and took its result
    docs = [json.loads(out) for out, _ in outs]
    scale_status = sorted(statuses(d)["scale"] for d in docs)
    assert scale_status == ["cached", "ran"]
    outputs = {tuple(sorted(s["outputs"].items())) for d in docs for s in d["steps"] if s["name"] == "total"}
    assert len(outputs) == 1  # same content, one stored copy

"""Same inputs, same bytes: every step of `train` gives identical outputs on two fresh stores, and a run killed
at random moments (spot_train and register included) finishes with the outputs of an uninterrupted one."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow

FAST = ["--param", "periods=8", "--param", "max_trials=4", "--param", "max_epochs=10"]


def _outputs(doc: dict, cli) -> dict[str, dict[str, str]]:
    """Output digests of the steps that promise the same bytes (those that declare `varies` are left out)."""
    shown = cli.json("show", doc["run_id"])
    varies = {s["name"] for s in shown["steps"] if s["varies"]}
    assert varies == {"register", "compress", "register_compressed", "serve"}  # each says why: @step(varies=...)
    return {s["name"]: s["outputs"] for s in doc["steps"] if s["name"] not in varies}


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """`train` once, uninterrupted, on a fresh store: the reference bytes, and how long it took."""
    from cli_runs import CLI

    root = tmp_path_factory.mktemp("clean")
    cli = CLI(root / "home", root)
    started = time.monotonic()
    doc = cli.json("run", "train", *FAST)
    assert doc["status"] == "succeeded"
    return _outputs(doc, cli), time.monotonic() - started


def test_every_step_of_train_gives_the_same_bytes_on_a_fresh_store(clean, tmp_path):
    from cli_runs import CLI

    first, _ = clean
    cli = CLI(tmp_path / "home", tmp_path)
    second = _outputs(cli.json("run", "train", *FAST), cli)
    differing = {step: sorted(n for n in out if out[n] != second[step].get(n)) for step, out in first.items()}
    assert {step: names for step, names in differing.items() if names} == {}


def test_train_killed_at_random_moments_finishes_with_the_uninterrupted_bytes(clean, tmp_path):
    from cli_runs import CLI

    reference, wall_s = clean
    cli = CLI(tmp_path / "home", tmp_path)
    moments = sorted(random.Random(20261201).uniform(0.05, 0.95) * wall_s for _ in range(4))
    for moment in moments:
        # the whole process group, as a reclaimed machine loses it: spot_train's worker processes included
        proc = subprocess.Popen(
            [sys.executable, "-m", "greenpipe.cli", "--home", str(cli.home), "run", "train", *FAST],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(moment)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        db = sqlite3.connect(cli.home / "greenpipe.db")
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        db.close()
    final = cli.json("run", "train", *FAST)
    assert final["status"] == "succeeded"
    assert _outputs(final, cli) == reference

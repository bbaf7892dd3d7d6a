"""Failures a user can cause end in one message naming the fix, exit 2, and, where it can be checked before the
run starts, nothing recorded."""

from __future__ import annotations

import sqlite3

import pytest

from greenpipe import step as greenpipe_step
from greenpipe.errors import SpecError

PIPE = "pipe.py:demo"

RETURNS = """

class Status(NamedTuple):
    status: str


@step
def report_status(value: str = "ok") -> Status:
    return {KEY: value}


@pipeline
def statuses(value: str = "ok") -> None:
    report_status(value=value)
"""


def _runs(home) -> int:
    db = home / "greenpipe.db"
    return sqlite3.connect(db).execute("SELECT count(*) FROM runs").fetchone()[0] if db.exists() else 0


def test_dict_with_other_keys_than_the_declared_namedtuple_fails_naming_the_step_and_field(cli, project):
    pipe = project / "pipe.py"
    base = pipe.read_text()
    pipe.write_text(base + RETURNS.replace("KEY", '"state"'))
    doc = cli.json("run", "pipe.py:statuses", check=False)
    assert doc["status"] == "failed"
    error = doc["steps"][0]["error"]
    assert "report_status" in error and "missing ['status']" in error and "unexpected ['state']" in error
    pipe.write_text(base + RETURNS.replace("KEY", '"status"'))
    ok = cli.json("run", "pipe.py:statuses", "--param", "value=fine")
    assert ok["status"] == "succeeded" and ok["steps"][0]["values"] == {"status": "fine"}


def test_compile_without_the_extra_names_the_extra(cli, project, tmp_path):
    blocker = tmp_path / "no-kfp"
    blocker.mkdir()
    (blocker / "kfp.py").write_text("raise ModuleNotFoundError(\"No module named 'kfp'\", name='kfp')\n")
    proc = cli("compile", PIPE, "--target", "kfp", "--out", "p.yaml", env={"PYTHONPATH": str(blocker)}, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "pip install 'greenpipe[kfp]'" in proc.stderr
    assert not (project / "p.yaml").exists()


def test_retrain_before_train_fails_before_recording_a_run(cli):
    proc = cli("run", "retrain", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "no champion" in proc.stderr and "greenpipe run train" in proc.stderr
    assert _runs(cli.home) == 0


def test_out_of_range_param_fails_before_recording_a_run(cli):
    proc = cli("run", "train", "--param", "periods=0", check=False)
    assert proc.returncode == 2 and "periods=0" in proc.stderr and "Traceback" not in proc.stderr
    assert _runs(cli.home) == 0
    plan = cli("plan", "train", "--param", "first_period=500", check=False)
    assert plan.returncode == 2 and "first_period=500" in plan.stderr


def test_a_component_param_out_of_range_fails_before_recording_a_run(cli):
    proc = cli("run", "train", "--param", "threshold=inf", check=False)
    assert proc.returncode == 2 and "threshold=inf must be a finite number" in proc.stderr
    assert "Traceback" not in proc.stderr and _runs(cli.home) == 0


def test_spot_train_params_are_checked_before_the_run(cli):
    proc = cli("plan", "train", "--param", "max_epochs=0", check=False)
    assert proc.returncode == 2 and "max_epochs=0 must be >= 1" in proc.stderr and "Traceback" not in proc.stderr


def test_an_unannotated_param_is_named_in_the_example():
    with pytest.raises(SpecError, match=r"parameter data has no type annotation; add one \(e.g. `data: float`"):
        greenpipe_step(lambda data: None)

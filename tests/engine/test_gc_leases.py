"""gc never deletes what a live run produced or will read; a killed run's lease ends with its process."""

from __future__ import annotations

import json
import os
import signal
import time

from cli_runs import statuses

LEASED = """

@step
def first(out: Output[Dataset]) -> None:
    with open(out.path, "w") as handle:
        json.dump([1, 2, 3], handle)


@step
def slow(out: Output[Dataset]) -> None:
    open(os.environ["SLOW_STARTED"], "w").close()
    time.sleep(float(os.environ.get("SLOW_SLEEP", "0")))
    with open(out.path, "w") as handle:
        json.dump(["slow"], handle)


@step
def last(data: Dataset, other: Dataset, out: Output[Dataset]) -> None:
    with open(data.path) as handle:
        values = json.load(handle)
    with open(out.path, "w") as handle:
        json.dump(values, handle)


@pipeline
def leased() -> None:
    made = first()
    waited = slow()  # runs after first, reads nothing of it: only the run itself holds first's output
    last(data=made.out, other=waited.out)
"""


def _started(cli, project, tmp_path, sleep: str):
    (project / "pipe.py").write_text((project / "pipe.py").read_text() + LEASED)
    marker = tmp_path / "slow-started"
    proc = cli.popen("run", "pipe.py:leased", "--json", env={"SLOW_STARTED": str(marker), "SLOW_SLEEP": sleep})
    deadline = time.time() + 120
    while not marker.exists():
        assert time.time() < deadline and proc.poll() is None, "the run never reached the slow step"
        time.sleep(0.05)
    return proc


def test_gc_during_a_run_keeps_what_the_run_will_read(cli, project, tmp_path):
    proc = _started(cli, project, tmp_path, sleep="15")  # wide enough for gc to start on a loaded machine
    gc = cli.json("gc", "--older-than", "0s")
    assert gc["artifacts_deleted"] == 0  # first's output is held by the live run
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert statuses(json.loads(out)) == {"first": "ran", "slow": "ran", "last": "ran"}


def test_a_killed_runs_lease_expires(cli, project, tmp_path):
    proc = _started(cli, project, tmp_path, sleep="60")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert cli.json("gc", "--older-than", "0s")["artifacts_deleted"] == 1  # first's output, nobody holds it now

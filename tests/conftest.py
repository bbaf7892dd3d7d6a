"""Shared fixtures: a throwaway user project with a pipeline file, and a CLI runner that runs greenpipe for real."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HELPERS = """
SCALE = 2


def transform(values):
    return [v * SCALE for v in values]
"""

PIPE = '''
import json
import os
import time
from typing import NamedTuple

import helpers
from greenpipe import CachePolicy, Dataset, Metrics, Output, pipeline, step, when


@step
def make(data: Output[Dataset], n: int = 5) -> None:
    """Make the numbers 0..n-1."""
    with open(data.path, "w") as handle:
        json.dump(list(range(n)), handle)


@step
def scale(data: Dataset, out: Output[Dataset]) -> None:
    """Scale every number."""
    with open(data.path) as handle:
        values = json.load(handle)
    marker = os.environ.get("SCALE_LOG")
    if marker:
        with open(marker, "a") as log:
            log.write("scale\\n")
    delay = float(os.environ.get("SCALE_SLEEP", "0"))
    if delay:
        started = os.environ.get("SCALE_STARTED")
        if started:
            open(started, "w").close()
        time.sleep(delay)
    with open(out.path, "w") as handle:
        json.dump(helpers.transform(values), handle)


class Gate(NamedTuple):
    big: bool
    total: int


@step
def check(data: Dataset, limit: int = 10) -> Gate:
    """Is the sum above the limit?"""
    with open(data.path) as handle:
        values = json.load(handle)
    return Gate(sum(values) > limit, sum(values))


@step(cache=CachePolicy(expire_after="PT1H"))
def total(data: Dataset, metrics: Output[Metrics]) -> None:
    """Write the sum as a metric."""
    with open(data.path) as handle:
        metrics.log_metric("total", sum(json.load(handle)))


@pipeline
def demo(n: int = 5, limit: int = 10) -> None:
    m = make(n=n)
    s = scale(data=m.data)
    g = check(data=s.out, limit=limit)
    with when(g.big):
        total(data=s.out)


@pipeline
def from_file(src: Dataset) -> None:
    s = scale(data=src)
    total(data=s.out)
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A user project folder with helpers.py and pipe.py (pipelines `demo` and `from_file`)."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "helpers.py").write_text(textwrap.dedent(HELPERS))
    (root / "pipe.py").write_text(textwrap.dedent(PIPE))
    return root


class CLI:
    def __init__(self, home: Path, cwd: Path):
        self.home = home
        self.cwd = cwd

    def __call__(
        self, *args: str, env: dict[str, str] | None = None, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess:
        full_env = {**os.environ, **(env or {})}
        full_env.pop("GREENPIPE_HOME", None)
        proc = subprocess.run(
            [sys.executable, "-m", "greenpipe.cli", "--home", str(self.home), *args],
            cwd=self.cwd,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"greenpipe {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc

    def json(self, *args: str, **kw) -> dict:
        return json.loads(self(*args, "--json", **kw).stdout)

    def popen(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        full_env = {**os.environ, **(env or {})}
        return subprocess.Popen(
            [sys.executable, "-m", "greenpipe.cli", "--home", str(self.home), *args],
            cwd=self.cwd,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


@pytest.fixture
def cli(tmp_path: Path, project: Path) -> CLI:
    return CLI(tmp_path / "home", project)


def statuses(doc: dict) -> dict[str, str]:
    return {s["name"]: s["status"] for s in doc["steps"]}


def plan_of(doc: dict) -> dict[str, tuple[str, str]]:
    return {s["name"]: (s["action"], s["reason"]) for s in doc["steps"]}


def object_of(cli: CLI, run: dict, step: str, output: str) -> Path:
    """The stored object of a step's output in a `run --json` document."""
    import sqlite3

    db = sqlite3.connect(cli.home / "greenpipe.db")
    exec_id = next(s["exec_id"] for s in run["steps"] if s["name"] == step)
    digest = db.execute("SELECT digest FROM outputs WHERE exec_id=? AND name=?", (exec_id, output)).fetchone()[0]
    db.close()
    hexpart = digest.split(":")[-1]
    return cli.home / "objects" / hexpart[:2] / hexpart

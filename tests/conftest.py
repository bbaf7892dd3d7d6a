"""Shared fixtures: a throwaway user project with a pipeline file, and a CLI runner that runs greenpipe for real."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from cli_runs import CLI

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


@pytest.fixture
def cli(tmp_path: Path, project: Path) -> CLI:
    return CLI(tmp_path / "home", project)

"""Running greenpipe's CLI for real in tests, and reading what it printed. A module of its own (not conftest):
tests import it by this name, which no other folder's conftest.py can shadow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


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

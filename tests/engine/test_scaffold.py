"""`greenpipe new` gives a project that installs, passes its own tests and runs its pipeline."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_new_project_installs_tests_and_runs(cli, tmp_path):
    cli("new", "churn-model", "--dir", str(tmp_path))
    project = tmp_path / "churn-model"
    assert (project / "pyproject.toml").exists() and (project / ".github/workflows/ci.yml").exists()
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            str(project),
        ],
        check=True,
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "1 passed" in tests.stdout
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "greenpipe.cli",
            "--home",
            str(tmp_path / "home"),
            "run",
            "churn_model.pipeline:churn_model_pipeline",
            "--json",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    assert [s["name"] for s in doc["steps"]] == ["load_data", "small_sample", "drift_baseline"]
    assert {s["status"] for s in doc["steps"]} == {"ran"}


def test_new_refuses_a_bad_name_and_a_non_empty_folder(cli, tmp_path):
    proc = cli("new", "9lives", "--dir", str(tmp_path), check=False)
    assert proc.returncode == 2 and "project name '9lives' is not usable" in proc.stderr
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    proc = cli("new", "taken", "--dir", str(tmp_path), check=False)
    assert proc.returncode == 2 and "exists and is not empty" in proc.stderr
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"

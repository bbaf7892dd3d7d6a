"""`greenpipe new` gives a project that installs, passes its own tests and runs its pipeline."""

from __future__ import annotations

import json
import os
import subprocess
import tomllib
from pathlib import Path

import pytest

from greenpipe.scaffold import requirement_from

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_new_project_installs_from_its_readme_in_a_fresh_venv_passes_its_tests_and_runs(cli, tmp_path):
    cli("new", "churn-model", "--dir", str(tmp_path))
    project = tmp_path / "churn-model"
    assert (project / "pyproject.toml").exists() and (project / ".github/workflows/ci.yml").exists()
    readme = (project / "README.md").read_text()
    install = next(line for line in readme.splitlines() if line.startswith("python3 -m venv .venv"))
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "GREENPIPE_HOME")}
    setup = subprocess.run(["bash", "-c", install], cwd=project, env=env, capture_output=True, text=True, timeout=1800)
    assert setup.returncode == 0, setup.stdout[-3000:] + setup.stderr[-3000:]
    tests = subprocess.run(
        [str(project / ".venv/bin/pytest"), "-q", "-p", "no:cacheprovider"],
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
            str(project / ".venv/bin/greenpipe"),
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


def test_new_project_depends_on_greenpipe_where_this_greenpipe_came_from(cli, tmp_path):
    cli("new", "churn-model", "--dir", str(tmp_path))
    pyproject = tomllib.loads((tmp_path / "churn-model" / "pyproject.toml").read_text())
    # the test venv installs greenpipe editable from this checkout, which no index serves
    assert pyproject["project"]["dependencies"] == [f"greenpipe @ {REPO.as_uri()}"]
    assert (
        "a CI runner installs it only from an index or a git URL"
        in (tmp_path / "churn-model" / ".github/workflows/ci.yml").read_text()
    )


def test_requirement_follows_pips_record_of_where_greenpipe_came_from(tmp_path):
    wheel = tmp_path / "greenpipe-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"")
    cases = [
        (None, None, "greenpipe>=0.1.0"),
        (None, REPO, f"greenpipe @ {REPO.as_uri()}"),
        ({"url": "file:///src/greenpipe", "dir_info": {"editable": True}}, None, "greenpipe @ file:///src/greenpipe"),
        ({"url": wheel.as_uri(), "archive_info": {}}, None, f"greenpipe @ {wheel.as_uri()}"),
        ({"url": "file:///gone/greenpipe-0.1.0-py3-none-any.whl", "archive_info": {}}, None, "greenpipe>=0.1.0"),
        (
            {"url": "https://github.com/o/greenpipe", "vcs_info": {"vcs": "git", "commit_id": "abc123"}},
            None,
            "greenpipe @ git+https://github.com/o/greenpipe@abc123",
        ),
    ]
    for direct_url, checkout, wanted in cases:
        assert requirement_from(direct_url, "0.1.0", checkout)[0] == wanted


def test_new_refuses_a_bad_name_and_a_non_empty_folder(cli, tmp_path):
    proc = cli("new", "9lives", "--dir", str(tmp_path), check=False)
    assert proc.returncode == 2 and "project name '9lives' is not usable" in proc.stderr
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    proc = cli("new", "taken", "--dir", str(tmp_path), check=False)
    assert proc.returncode == 2 and "exists and is not empty" in proc.stderr
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"

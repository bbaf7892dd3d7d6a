"""The README's first command on a core install (no extras): `greenpipe run train` must succeed.

CI installs every extra, so a step that imports an extra's package would pass the suite and fail a new user (serve
once needed botocore, which only the extras brought). Here the pipeline runs in a process where every package
outside greenpipe's core dependency closure (what `pip install greenpipe` installs, plus the venv's own pip and
setuptools) cannot be imported.
"""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.slow
SEEDED_BY_VENV = {"pip", "setuptools"}


def core_closure() -> set[str]:
    """Normalised names of greenpipe and every distribution its core requirements (pyproject.toml's, not an
    installed copy's, which may predate an edit) pull in, transitively."""
    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    seen: set[tuple[str, str]] = set()
    todo = [("greenpipe", "")]
    while todo:
        name, extra = todo.pop()
        if (name, extra) in seen:
            continue
        seen.add((name, extra))
        try:
            requirements = pyproject["project"]["dependencies"] if name == "greenpipe" else metadata.requires(name)
        except metadata.PackageNotFoundError:
            continue  # an optional platform dependency that is not installed here
        for line in requirements or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": extra}):
                todo.append((canonicalize_name(req.name), ""))
                todo.extend((canonicalize_name(req.name), e) for e in req.extras)
    return {name for name, _ in seen} | SEEDED_BY_VENV


def modules_outside(closure: set[str]) -> list[str]:
    return sorted(
        module
        for module, dists in metadata.packages_distributions().items()
        if not any(canonicalize_name(d) in closure for d in dists)
    )


def test_the_closure_is_what_pyproject_declares():
    closure = core_closure()
    assert {"optuna", "botocore", "great-expectations", "scikit-learn"} <= closure
    blocked = modules_outside(closure)
    assert {"kfp", "sagemaker", "mlflow", "moto", "pytest"} <= set(blocked)  # extras and test tools: not core


def test_train_runs_on_a_core_install(tmp_path):
    from cli_runs import CLI
    from test_reference import FAST

    env = {
        "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "core_only"),
        "GREENPIPE_TEST_BLOCKED": ",".join(modules_outside(core_closure())),
    }
    cli = CLI(tmp_path / "home", tmp_path)
    doc = cli.json("run", "train", *FAST, env=env, timeout=300)
    assert doc["status"] == "succeeded"
    assert {s["status"] for s in doc["steps"]} == {"ran"}

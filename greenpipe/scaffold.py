"""`greenpipe new NAME`: a new project with a pipeline built from greenpipe components plus one custom step.

The project depends on greenpipe where this greenpipe came from: an index (`greenpipe>=VERSION`), a checkout or a
wheel on this machine (`greenpipe @ file:///...`, from pip's direct_url.json), or a git URL, so it installs and
passes its tests in a fresh virtualenv before any index serves greenpipe.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from greenpipe import __version__
from greenpipe.errors import GreenpipeError

PYPROJECT = """[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "0.1.0"
description = "An ML pipeline built with greenpipe"
requires-python = ">=3.11"
dependencies = ["{requirement}"]

[project.optional-dependencies]
test = ["pytest>=8"]

[tool.setuptools.packages.find]
where = ["src"]

[tool.pytest.ini_options]
testpaths = ["tests"]
"""

README = """# {name}

An ML pipeline built from [greenpipe](https://github.com/greenpipe/greenpipe) components: a custom step
loads the data, `small_sample` picks the simplest model that meets the threshold on small samples, and
`drift_baseline` records the training data's baseline for later drift checks.

greenpipe comes from {source}.

```bash
python3 -m venv .venv && .venv/bin/python -m pip install -q --upgrade pip && .venv/bin/pip install -q -e ".[test]"
.venv/bin/greenpipe run {package}.pipeline:{package}_pipeline     # run it (cached on the second run)
.venv/bin/greenpipe plan {package}.pipeline:{package}_pipeline --param threshold=0.97
.venv/bin/pytest                                                   # its tests
```
"""

STEPS = '''"""The project's own steps."""

from greenpipe import Dataset, Output, step


@step(description="Load the breast cancer data set bundled with scikit-learn as Parquet")
def load_data(data: Output[Dataset], target: str = "label") -> None:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame.rename(columns={{"target": target}})
    frame.columns = [str(c).replace(" ", "_") for c in frame.columns]
    frame.to_parquet(data.path, index=False)
'''

PIPELINE = '''"""The project's pipeline: a custom step, then greenpipe components."""

from greenpipe import pipeline
from greenpipe.components.drift_gate import drift_baseline
from greenpipe.components.small_sample import small_sample

from {package}.steps import load_data


@pipeline(name="{package}_pipeline", description="Load data, pick a model on small samples, record a baseline")
def {package}_pipeline(threshold: float = 0.9, target: str = "label") -> None:
    data = load_data(target=target)
    small_sample(data=data.data, target=target, threshold=threshold, metric="accuracy")
    drift_baseline(data=data.data, target=target)
'''

TEST = '''"""The pipeline runs end to end on a throwaway store, and a second run is answered by the cache."""

from greenpipe.runner import Runner
from greenpipe.store import Store

from {package}.pipeline import {package}_pipeline


def test_pipeline_runs_then_caches(tmp_path):
    store = Store(tmp_path / "store")
    first = Runner({package}_pipeline, store=store).run()
    assert first.status == "succeeded", [s.error for s in first.steps]
    choice = first.step("small_sample").values
    assert choice["candidate"] and 0 < choice["fraction"] <= 1
    second = Runner({package}_pipeline, store=store).run()
    assert [s.status for s in second.steps] == ["cached"] * len(second.steps)
'''

WORKFLOW = """name: ci
on: [push, pull_request]
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"{note}
      - run: python -m pip install --upgrade pip && pip install -e ".[test]" && pytest
"""

LOCAL_NOTE = """
      # greenpipe comes from {source} on the machine that made this project (see pyproject.toml):
      # a CI runner installs it only from an index or a git URL, so point the dependency at one first."""

GITIGNORE = ".greenpipe/\n__pycache__/\n*.egg-info/\n.venv/\n"


def new_project(name: str, where: str | Path = ".") -> Path:
    """Write a new project folder `where/NAME`; refuse to overwrite anything."""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", name or ""):
        raise GreenpipeError(
            f"project name {name!r} is not usable: start with a letter, then letters, digits, "
            "'-' or '_' (e.g. churn-model)"
        )
    package = re.sub(r"[^0-9a-zA-Z]+", "_", name).lower()
    root = Path(where) / name
    if root.exists() and any(root.iterdir()):
        raise GreenpipeError(f"folder {str(root)!r} exists and is not empty: choose another NAME or remove it")
    requirement, source = greenpipe_requirement()
    local = "file:" in requirement
    files = {
        "pyproject.toml": PYPROJECT.format(dist=name, requirement=requirement),
        "README.md": README.format(name=name, package=package, source=source),
        f"src/{package}/__init__.py": f'"""{name}: an ML pipeline built with greenpipe."""\n',
        f"src/{package}/steps.py": STEPS.format(),
        f"src/{package}/pipeline.py": PIPELINE.format(package=package),
        "tests/test_pipeline.py": TEST.format(package=package),
        ".github/workflows/ci.yml": WORKFLOW.format(note=LOCAL_NOTE.format(source=source) if local else ""),
        ".gitignore": GITIGNORE,
    }
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def greenpipe_requirement() -> tuple[str, str]:
    """The requirement a new project needs to get this greenpipe, and a sentence saying where it comes from."""
    from importlib import metadata

    try:
        text = metadata.distribution("greenpipe").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        text = None  # imported from a source tree on sys.path, not installed
    checkout = Path(__file__).resolve().parent.parent
    has_source = (checkout / "pyproject.toml").is_file()
    return requirement_from(json.loads(text) if text else None, __version__, checkout if has_source else None)


def requirement_from(direct_url: dict[str, Any] | None, version: str, checkout: Path | None) -> tuple[str, str]:
    """A PEP 508 requirement from pip's direct_url.json (PEP 610) of the installed greenpipe.

    No direct_url.json means an index install, or, when greenpipe's own folder holds its pyproject.toml, a
    source tree on sys.path.
    """
    if direct_url is None:
        if checkout is not None:
            return f"greenpipe @ {checkout.as_uri()}", f"the checkout at {checkout}"
        return f"greenpipe>={version}", "the package index"
    url = str(direct_url["url"])
    if "vcs_info" in direct_url:
        vcs = direct_url["vcs_info"]
        return f"greenpipe @ {vcs['vcs']}+{url}@{vcs['commit_id']}", f"{url} at commit {vcs['commit_id']}"
    if "archive_info" in direct_url:
        if url.startswith("file://") and not Path(url.removeprefix("file://")).exists():
            return f"greenpipe>={version}", f"the package index (the archive it was installed from, {url}, is gone)"
        return f"greenpipe @ {url}", f"the archive {url}"
    return f"greenpipe @ {url}", f"the checkout at {url.removeprefix('file://')}"

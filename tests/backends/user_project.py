"""A user's own project for the code-travel tests: a package with a helper module and a step that reaches it,
written to a folder, so a subprocess can run the step with or without the package on its path."""

import sys
from pathlib import Path

PACKAGE = "gp_travel_proj"

FILES = {
    "__init__.py": '"""A user project."""\n',
    "helpers.py": '''"""Helpers the step reaches: a function and a constant."""

OFFSET = 10


def transform(values, factor):
    return [round(v * factor + OFFSET, 6) for v in values]
''',
    "steps.py": '''"""The project's steps."""

import json

from greenpipe import Dataset, Model, Output, pipeline, step

from gp_travel_proj import helpers


@step(description="Scale every value of a JSON list with the project's helper")
def scale(data: Dataset, out: Output[Dataset], factor: float = 2.0) -> None:
    with open(data.path) as handle:
        values = json.load(handle)
    with open(out.path, "w") as handle:
        json.dump(helpers.transform(values, factor), handle)


@step(description="Sum a JSON list")
def total(data: Dataset, out: Output[Dataset]) -> None:
    with open(data.path) as handle:
        values = json.load(handle)
    with open(out.path, "w") as handle:
        json.dump({"total": round(sum(values), 6)}, handle)


@pipeline(name="travel")
def travel(src: Dataset, factor: float = 2.0) -> None:
    scaled = scale(data=src, factor=factor)
    total(data=scaled.out)


@step(description="Fit the mean of a JSON list as a model (a SageMaker Training job)", runtime="training")
def fit_mean(data: Dataset, model: Output[Model], shift: float = 0.0) -> None:
    with open(data.path) as handle:
        values = json.load(handle)
    with open(model.path, "w") as handle:
        json.dump({"mean": round(sum(values) / len(values) + shift + helpers.OFFSET, 6)}, handle)


@step(description="Read the model back")
def read_model(model: Model, out: Output[Dataset]) -> None:
    with open(model.path) as handle:
        json.dump(json.load(handle), open(out.path, "w"))


@pipeline(name="travel-train")
def travel_train(src: Dataset, shift: float = 1.0) -> None:
    scaled = scale(data=src)
    fitted = fit_mean(data=scaled.out, shift=shift)
    read_model(model=fitted.model)
''',
}


def write_project(root: Path, edits: dict[str, str] | None = None) -> Path:
    """Write the package under `root` (with `edits` replacing files) and return `root`."""
    package = root / PACKAGE
    package.mkdir(parents=True, exist_ok=True)
    for name, text in {**FILES, **(edits or {})}.items():
        (package / name).write_text(text)
    return root


def import_project(root: Path):
    """Import the package from `root` afresh (dropping any copy imported before) and return its steps module."""
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
        del sys.modules[name]
    sys.path.insert(0, str(root))
    try:
        import importlib

        return importlib.import_module(f"{PACKAGE}.steps")
    finally:
        sys.path.remove(str(root))

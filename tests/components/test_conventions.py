"""The calling convention every shipped step follows (docs/components/conventions.md), checked over all of them,
in the manner of scikit-learn's test_common: a new step that breaks it fails here, not in a user's pipeline."""

import re
import typing
from collections import defaultdict

import pytest

from greenpipe.backends.catalog import component_steps
from greenpipe.params import type_name

STEPS = [step for _, step in component_steps()]
IDS = [step.spec.name for step in STEPS]

# Names the convention replaced, with the name to use instead: one word per meaning across the components.
SYNONYMS = {
    "train": "data (the table the step works on)",
    "source": "data (the table the step works on)",
    "eval_data": "validation (held-out rows a step scores on)",
    "test": "validation (held-out rows a step scores on)",
    "label": "target",
    "label_column": "target",
    "direction": "nothing: a metric's direction comes from the metric registry",
    "random_state": "seed",
    "n_jobs": "threads",
}


def test_every_component_ships_steps():
    assert {folder for folder, _ in component_steps()} >= {
        "feature_dedup",
        "small_sample",
        "spot_train",
        "bayes_tune",
        "drift_gate",
        "register",
    }


@pytest.mark.parametrize("step", STEPS, ids=IDS)
def test_name_and_description(step):
    spec = step.spec
    assert re.fullmatch(r"[a-z][a-z0-9_]*", spec.name), f"{spec.name}: step names are snake_case"
    assert spec.name == spec.qualname, f"{spec.name}: the step is named after its function ({spec.qualname})"
    assert spec.description and "\n" not in spec.description and len(spec.description) <= 120, (
        f"{spec.name}: a one-line description of at most 120 characters, for catalogs"
    )


@pytest.mark.parametrize("step", STEPS, ids=IDS)
def test_every_parameter_is_documented(step):
    spec = step.spec
    missing = [p.name for p in spec.params if not p.doc] + [a.name for a in spec.inputs + spec.outputs if not a.doc]
    assert not missing, f"{spec.name}: document {missing} in the docstring's Args section"


@pytest.mark.parametrize("step", STEPS, ids=IDS)
def test_names_follow_the_shared_vocabulary(step):
    spec = step.spec
    names = [p.name for p in spec.params] + [a.name for a in spec.inputs + spec.outputs]
    wrong = {n: SYNONYMS[n] for n in names if n in SYNONYMS}
    assert not wrong, f"{spec.name}: rename {wrong}"


@pytest.mark.parametrize("step", STEPS, ids=IDS)
def test_result_type_is_named_after_the_step(step):
    returned = typing.get_type_hints(step.fn).get("return")
    if returned is None or returned is type(None):
        return
    expected = "".join(part.capitalize() for part in step.spec.name.split("_")) + "Result"
    assert returned.__name__ == expected, f"{step.spec.name}: name its result type {expected}"


@pytest.mark.parametrize("step", STEPS, ids=IDS)
def test_choices_are_literals_that_include_their_default(step):
    for param in step.spec.params:
        if param.choices is None:
            continue
        assert param.to_dict()["choices"] == list(param.choices)
        assert param.required or param.default in param.choices, f"{step.spec.name}.{param.name}"


def test_a_name_means_one_type_in_every_step():
    types_by_name: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for step in STEPS:
        spec = step.spec
        for param in spec.params:
            types_by_name[param.name].add((_base_type(param.type), spec.name))
        for artifact in spec.inputs + spec.outputs:
            types_by_name[artifact.name].add((artifact.kind, spec.name))
    clashes = {name: sorted(found) for name, found in types_by_name.items() if len({t for t, _ in found}) > 1}
    assert not clashes, f"one name, several types: {clashes}"


def _base_type(tp: typing.Any) -> str:
    """A Literal choice counts as its value type: `metric` is a str whether or not a step lists its choices."""
    if typing.get_origin(tp) is typing.Literal:
        return type(typing.get_args(tp)[0]).__name__
    return type_name(tp)

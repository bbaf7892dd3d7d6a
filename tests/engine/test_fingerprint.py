"""The code fingerprint changes exactly when code or values a step reaches change.

Each version of a user's modules is written to disk and imported afresh under the same names, as a new
process would see it.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from greenpipe.fingerprint import code_fingerprint


class Project:
    """A folder of modules on sys.path; `fingerprint(module, fn)` imports the current files afresh."""

    def __init__(self, root: Path, prefix: str):
        self.root = root
        self.prefix = prefix

    def write(self, name: str, source: str) -> None:
        (self.root / f"{self.prefix}{name}.py").write_text(textwrap.dedent(source))

    def fingerprint(self, module: str, fn: str):
        for loaded in [m for m in sys.modules if m.startswith(self.prefix)]:
            del sys.modules[loaded]
        importlib.invalidate_caches()
        return code_fingerprint(getattr(importlib.import_module(self.prefix + module), fn))


_counter = iter(range(10**9))


@pytest.fixture
def proj(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.syspath_prepend(str(tmp_path))
    prefix = f"fpproj{next(_counter)}_"
    yield Project(tmp_path, prefix)
    for loaded in [m for m in sys.modules if m.startswith(prefix)]:
        del sys.modules[loaded]


def _changes(proj: Project, module: str, before: str, after: str, helper: str, fn: str = "step") -> bool:
    proj.write(module, before)
    first = proj.fingerprint("main", fn)
    proj.write(module, after)
    return proj.fingerprint("main", fn).digest != first.digest


MAIN_USES_HELPER = """
import {p}helpers as helpers

def step():
    return helpers.columns()
"""


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("COLS = ['a', 'b']", "COLS = ['a']"),
        ("COLS = {'a': 1}", "COLS = {'a': 2}"),
        ("COLS = {'a', 'b'}", "COLS = {'a'}"),
        ("COLS = (('a', 1), ('b', (2, 3)))", "COLS = (('a', 1), ('b', (2, 4)))"),
        ("import numpy\nCOLS = numpy.array([1.0, 2.0])", "import numpy\nCOLS = numpy.array([1.0, 2.5])"),
        ("import re\nCOLS = re.compile('a+')", "import re\nCOLS = re.compile('a*')"),
        (
            "import enum\nclass Mode(enum.Enum):\n    A = 1\n    B = 2\nCOLS = Mode.A",
            "import enum\nclass Mode(enum.Enum):\n    A = 1\n    B = 2\nCOLS = Mode.B",
        ),
        (
            "import dataclasses\n@dataclasses.dataclass\nclass C:\n    n: int\nCOLS = C(1)",
            "import dataclasses\n@dataclasses.dataclass\nclass C:\n    n: int\nCOLS = C(2)",
        ),
        (
            "class Settings:\n    def __init__(self, n):\n        self.n = n\nCOLS = Settings([1])",
            "class Settings:\n    def __init__(self, n):\n        self.n = n\nCOLS = Settings([2])",
        ),
    ],
    ids=["list", "dict", "set", "nested-tuple", "numpy", "regex", "enum", "dataclass", "plain-object"],
)
def test_every_module_level_value_counts(proj, before, after):
    proj.write("main", MAIN_USES_HELPER.format(p=proj.prefix))
    helper = "{}\n\ndef columns():\n    return COLS\n"
    assert _changes(proj, "helpers", helper.format(before), helper.format(after), "helpers")


def test_value_that_cannot_be_digested_is_named_not_ignored(proj):
    proj.write("helpers", "import itertools\nIDS = itertools.count()\n\ndef columns():\n    return next(IDS)\n")
    proj.write("main", MAIN_USES_HELPER.format(p=proj.prefix))
    fp = proj.fingerprint("main", "step")
    assert any(f"{proj.prefix}helpers.IDS" in note and "count" in note for note in fp.untracked), fp.untracked


@pytest.mark.parametrize("edited", ["clip", "safe_div"])
def test_every_attribute_read_of_a_module_counts_wherever_it_is_read(proj, edited):
    mathutil = "def clip(v):\n    return min(v, 1)\n\ndef safe_div(a, b):\n    return a / b if b else 0\n"
    proj.write("mathutil", mathutil)
    proj.write(
        "helper",
        f"import {proj.prefix}mathutil as mathutil\n\ndef ratio(a, b):\n    return mathutil.safe_div(a, b)\n",
    )
    proj.write(
        "main",
        f"import {proj.prefix}mathutil as mathutil\nimport {proj.prefix}helper as helper\n\n"
        "def step():\n    return helper.ratio(2, 1) + mathutil.clip(3)\n",
    )
    first = proj.fingerprint("main", "step")
    edit = {"clip": ("min(v, 1)", "min(v, 2)"), "safe_div": ("else 0", "else 1")}[edited]
    proj.write("mathutil", mathutil.replace(*edit))
    assert proj.fingerprint("main", "step").digest != first.digest


def test_attribute_read_is_not_taken_for_a_same_named_global(proj):
    proj.write(
        "main",
        "import json\n\ndef load():\n    return 1\n\ndef step(path):\n    return json.load(open(path))\n",
    )
    first = proj.fingerprint("main", "step")
    proj.write(
        "main",
        "import json\n\ndef load():\n    return 2\n\ndef step(path):\n    return json.load(open(path))\n",
    )
    assert proj.fingerprint("main", "step").digest == first.digest


def test_comments_and_docstrings_do_not_count(proj):
    proj.write("main", "def step(x):\n    return x + 1\n")
    first = proj.fingerprint("main", "step")
    proj.write("main", '# a note\n\ndef step(x):\n    """Add one."""\n    # why: off by one\n    return x + 1  # ok\n')
    assert proj.fingerprint("main", "step").digest == first.digest
    proj.write("main", "def step(x):\n    return x + 2\n")
    assert proj.fingerprint("main", "step").digest != first.digest


@pytest.mark.parametrize(
    "reader",
    [
        "import {p}helpers as helpers\n\ndef step(name):\n    return getattr(helpers, name)()\n",
        "import {p}helpers as helpers\n\ndef step(name):\n    return vars(helpers)[name]()\n",
        "import importlib\n\ndef step(name):\n    return getattr(importlib.import_module('{p}helpers'), name)()\n",
    ],
    ids=["getattr", "vars", "import_module"],
)
def test_module_read_by_computed_name_counts_whole(proj, reader):
    proj.write("main", reader.format(p=proj.prefix))
    assert _changes(
        proj,
        "helpers",
        "def a():\n    return 1\n\ndef b():\n    return 2\n",
        "def a():\n    return 1\n\ndef b():\n    return 3\n",
        "helpers",
    )


def test_names_imported_inside_a_function_count(proj):
    proj.write("main", f"def step():\n    from {proj.prefix}helpers import LIMITS\n    return LIMITS\n")
    assert _changes(proj, "helpers", "LIMITS = [1, 2]\n", "LIMITS = [1, 3]\n", "helpers")


def test_unrelated_member_of_a_read_module_does_not_count(proj):
    proj.write("main", MAIN_USES_HELPER.format(p=proj.prefix))
    assert not _changes(
        proj,
        "helpers",
        "def columns():\n    return 1\n\ndef other():\n    return 1\n",
        "def columns():\n    return 1\n\ndef other():\n    return 2\n",
        "helpers",
    )


# -- property: the step reruns if and only if code or data it reaches changed --------------------------------

_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(used=_values, unused=_values, used_after=_values, unused_after=_values, comment=st.booleans())
def test_property_reruns_iff_reached_value_changed(proj, used, unused, used_after, unused_after, comment):
    proj.write("main", MAIN_USES_HELPER.format(p=proj.prefix))
    template = "{note}USED = {used!r}\nUNUSED = {unused!r}\n\ndef columns():\n    return USED\n"
    proj.write("helpers", template.format(used=used, unused=unused, note=""))
    first = proj.fingerprint("main", "step")
    note = "# edited\n" if comment else ""
    proj.write("helpers", template.format(used=used_after, unused=unused_after, note=note))
    changed = proj.fingerprint("main", "step").digest != first.digest
    assert changed == (repr(used) != repr(used_after) or type(used) is not type(used_after))


def test_a_value_the_code_changes_in_place_counts_by_its_initial_value(proj):
    log = "CALLS = []\nCACHE = {}\n\ndef step(x):\n    CALLS.append(x)\n    CACHE[x] = len(CALLS)\n    return x\n"
    proj.write("main", log)
    module = importlib.import_module(proj.prefix + "main")
    first = code_fingerprint(module.step)
    module.step(1)  # the log and the cache fill up: state, not configuration
    assert code_fingerprint(module.step).digest == first.digest
    proj.write("main", log.replace("CALLS = []", "CALLS = [0]"))
    assert proj.fingerprint("main", "step").digest != first.digest


def test_state_set_by_attribute_on_a_module_level_object_does_not_count(proj):
    source = "import types\nSTATE = types.SimpleNamespace(n=0)\n\ndef step(x):\n    STATE.n = x\n    return x\n"
    proj.write("main", source)
    module = importlib.import_module(proj.prefix + "main")
    first = code_fingerprint(module.step)
    module.step(5)
    assert code_fingerprint(module.step).digest == first.digest


def test_a_value_read_by_code_inside_a_value_counts(proj):
    helpers = "LIMIT = 1\n\ndef capped(x):\n    return min(x, LIMIT)\n\nTABLE = {'capped': capped}\n"
    proj.write("main", MAIN_USES_HELPER.format(p=proj.prefix).replace("helpers.columns()", "helpers.TABLE"))
    assert _changes(proj, "helpers", helpers, helpers.replace("LIMIT = 1", "LIMIT = 2"), "helpers")

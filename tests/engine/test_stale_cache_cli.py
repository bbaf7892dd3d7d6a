"""The stale and needless reruns found from the CLI, reproduced from the CLI."""

from __future__ import annotations

from cli_runs import plan_of, statuses

PIPE = "pipe.py:demo"


def test_list_constant_in_a_helper_module_reruns_the_step(cli, project):
    helpers = project / "helpers.py"
    helpers.write_text(
        "SCALE = 2\nOFFSETS = [0, 0]\n\n\ndef transform(values):\n    return [v * SCALE + OFFSETS[0] for v in values]\n"
    )
    cli("run", PIPE)
    helpers.write_text(helpers.read_text().replace("OFFSETS = [0, 0]", "OFFSETS = [1, 0]"))
    action, reason = plan_of(cli.json("plan", PIPE))["scale"]
    assert action == "run" and "helpers.OFFSETS" in reason
    assert statuses(cli.json("run", PIPE))["scale"] == "ran"


def test_plan_names_a_value_it_cannot_fingerprint(cli, project):
    helpers = project / "helpers.py"
    helpers.write_text(
        "import itertools\nSCALE = 2\nIDS = itertools.count()\n\n\n"
        "def transform(values):\n    next(IDS)\n    return [v * SCALE for v in values]\n"
    )
    doc = cli.json("plan", PIPE)
    notes = {s["name"]: s["untracked"] for s in doc["steps"]}
    assert any("helpers.IDS" in n and "count" in n for n in notes["scale"]), notes
    assert notes["make"] == []
    text = cli("plan", PIPE).stdout
    assert "untracked global `helpers.IDS`" in text


def test_json_load_does_not_depend_on_a_step_named_load(cli, project):
    pipe = project / "pipe.py"
    load_step = (
        "@step\ndef load(data: Output[Dataset]) -> None:\n    with open(data.path, 'w') as f:\n        f.write('1')\n"
    )
    pipe.write_text(pipe.read_text() + "\n\n" + load_step)
    cli("run", PIPE)
    pipe.write_text(pipe.read_text().replace("f.write('1')", "f.write('2')"))
    plan = plan_of(cli.json("plan", PIPE))
    assert {name: action for name, (action, _) in plan.items()} == {
        "make": "cached",
        "scale": "cached",
        "check": "cached",
        "total": "cached",
    }, plan


def test_comment_and_docstring_edits_rerun_nothing(cli, project):
    cli("run", PIPE)
    pipe = project / "pipe.py"
    pipe.write_text(
        pipe.read_text()
        .replace('"""Scale every number."""', '"""Scale every number by the helper\'s factor."""')
        .replace(
            "    with open(data.path) as handle:\n        values",
            "    # read\n    with open(data.path) as handle:\n        values",
            1,
        )
    )
    helpers = project / "helpers.py"
    helpers.write_text("# the factor\n" + helpers.read_text())
    assert set(statuses(cli.json("run", PIPE)).values()) == {"cached"}


def _project_with(project, helper_module: str, pipe_extra: str) -> None:
    (project / "mathutil.py").write_text(helper_module)
    pipe = project / "pipe.py"
    pipe.write_text(pipe.read_text() + pipe_extra)


ATTRIBUTE_READS = """

import mathutil


def _ratio(a, b):
    return mathutil.safe_div(a, b)


@step
def rated(out: Output[Dataset]) -> None:
    with open(out.path, "w") as handle:
        json.dump([_ratio(6, 3), mathutil.clip(5)], handle)


@pipeline
def rates() -> None:
    rated()
"""
MATHUTIL = "def clip(v):\n    return min(v, 1)\n\n\ndef safe_div(a, b):\n    return a / b if b else 0\n"


def test_every_attribute_a_helper_reads_from_a_module_reruns_the_step(cli, project):
    _project_with(project, MATHUTIL, ATTRIBUTE_READS)
    cli("run", "pipe.py:rates")
    for old, new, changed in (("min(v, 1)", "min(v, 2)", "clip"), ("else 0", "else -1", "safe_div")):
        (project / "mathutil.py").write_text(MATHUTIL.replace(old, new))  # clip: the step's; safe_div: the helper's
        action, reason = plan_of(cli.json("plan", "pipe.py:rates"))["rated"]
        assert action == "run" and f"mathutil.{changed}" in reason


DYNAMIC_READ = """

import mathutil


@step
def by_name(out: Output[Dataset], name: str = "clip") -> None:
    with open(out.path, "w") as handle:
        json.dump(getattr(mathutil, name)(5), handle)


@pipeline
def dynamic() -> None:
    by_name()
"""


def test_a_module_read_by_computed_name_counts_whole(cli, project):
    _project_with(project, MATHUTIL, DYNAMIC_READ)
    cli("run", "pipe.py:dynamic")
    (project / "mathutil.py").write_text(MATHUTIL.replace("min(v, 1)", "min(v, 2)"))
    action, reason = plan_of(cli.json("plan", "pipe.py:dynamic"))["by_name"]
    assert action == "run" and "mathutil" in reason
    assert statuses(cli.json("run", "pipe.py:dynamic"))["by_name"] == "ran"

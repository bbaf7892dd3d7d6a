"""The stale and needless reruns found from the CLI, reproduced from the CLI."""

from __future__ import annotations

from conftest import plan_of, statuses

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

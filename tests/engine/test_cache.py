"""The cache keys on code (transitively), params and input content, and verifies outputs before trusting a hit."""

from __future__ import annotations

import json
import os
import sqlite3

from cli_runs import object_of, plan_of, statuses

PIPE = "pipe.py:demo"


def test_second_identical_run_executes_nothing_and_credits_the_first(cli):
    first = cli.json("run", PIPE)
    assert set(statuses(first).values()) == {"ran"}
    second = cli.json("run", PIPE)
    assert set(statuses(second).values()) == {"cached"}
    assert second["totals"]["energy_wh"] == 0
    # what a hit avoids is exactly what the original execution measured
    spent = {s["name"]: s["energy_wh"] for s in first["steps"]}
    avoided = {s["name"]: s["avoided_wh"] for s in second["steps"]}
    assert avoided == spent and all(v > 0 for v in spent.values())


def test_plain_run_says_nothing_executed(cli):
    cli("run", PIPE)
    out = cli("run", PIPE).stdout
    assert "Nothing executed" in out and "0 ran, 4 cached" in out


def test_helper_function_change_invalidates_only_steps_that_reach_it(cli, project):
    cli("run", PIPE)
    helpers = project / "helpers.py"
    helpers.write_text(helpers.read_text().replace("v * SCALE", "v * SCALE + 1"))
    plan = plan_of(cli.json("plan", PIPE))
    assert plan["make"][0] == "cached"
    assert plan["scale"] == ("run", "code changed in helpers.transform")
    assert plan["check"][0] == "run" and "upstream 'scale' runs" in plan["check"][1]
    ran = statuses(cli.json("run", PIPE))
    assert ran["make"] == "cached" and ran["scale"] == "ran"


def test_module_constant_change_is_a_code_change(cli, project):
    cli("run", PIPE)
    helpers = project / "helpers.py"
    helpers.write_text(helpers.read_text().replace("SCALE = 2", "SCALE = 3"))
    action, reason = plan_of(cli.json("plan", PIPE))["scale"]
    assert action == "run" and "SCALE" in reason


def test_param_change_names_old_and_new_value(cli):
    cli("run", PIPE)
    plan = plan_of(cli.json("plan", PIPE, "--param", "limit=20"))
    assert plan["make"][0] == "cached" and plan["scale"][0] == "cached"
    assert plan["check"] == ("run", "param limit 10 -> 20")


def test_new_data_at_the_same_path_is_not_a_stale_hit(cli, project):
    src = project / "numbers.json"
    src.write_text("[1, 2, 3]")
    first = cli.json("run", "pipe.py:from_file", "--param", f"src={src}")
    assert statuses(first)["scale"] == "ran"
    assert statuses(cli.json("run", "pipe.py:from_file", "--param", f"src={src}"))["scale"] == "cached"
    src.write_text("[1, 2, 4]")
    plan = plan_of(cli.json("plan", "pipe.py:from_file", "--param", f"src={src}"))
    assert plan["scale"] == ("run", "input 'data' changed")
    assert statuses(cli.json("run", "pipe.py:from_file", "--param", f"src={src}"))["scale"] == "ran"


def test_deleted_output_is_not_a_hit(cli):
    run = cli.json("run", PIPE)
    object_of(cli, run, "scale", "out").unlink()
    assert plan_of(cli.json("plan", PIPE))["scale"] == ("run", "output 'out' missing from the store")
    again = cli.json("run", PIPE)
    assert statuses(again)["scale"] == "ran"
    assert object_of(cli, again, "scale", "out").exists()


def test_corrupted_output_is_detected_and_recomputed(cli):
    run = cli.json("run", PIPE)
    path = object_of(cli, run, "scale", "out")
    os.chmod(path, 0o644)
    path.write_text("[999]")
    action, reason = plan_of(cli.json("plan", PIPE))["scale"]
    assert action == "run" and "corrupt" in reason
    again = cli.json("run", PIPE)
    assert statuses(again)["scale"] == "ran"
    assert json.loads(object_of(cli, again, "scale", "out").read_text()) == [0, 2, 4, 6, 8]


def test_expired_entry_reruns(cli):
    run = cli.json("run", PIPE)
    db = sqlite3.connect(cli.home / "greenpipe.db")
    exec_id = next(s["exec_id"] for s in run["steps"] if s["name"] == "total")
    db.execute("UPDATE cache SET created = created - 7200 WHERE exec_id=?", (exec_id,))
    db.commit()
    assert plan_of(cli.json("plan", PIPE))["total"] == ("run", "cache expired (older than PT1H)")


def test_force_reruns_the_step_and_its_downstream_only(cli):
    cli("run", PIPE)
    plan = plan_of(cli.json("plan", PIPE, "--force", "scale"))
    assert plan["make"][0] == "cached"
    assert plan["scale"] == ("run", "forced")
    ran = statuses(cli.json("run", PIPE, "--from", "scale"))
    assert ran == {"make": "cached", "scale": "ran", "check": "ran", "total": "ran"}


def test_same_step_same_inputs_in_another_pipeline_is_a_hit(cli, project):
    (project / "other.py").write_text(
        "from greenpipe import pipeline\nfrom pipe import make\n\n\n@pipeline\ndef other() -> None:\n    make(n=5)\n"
    )
    cli("run", PIPE)
    assert statuses(cli.json("run", "other.py:other")) == {"make": "cached"}


def test_code_passed_by_name_joins_the_cache_key(cli, project):
    (project / "byname.py").write_text(
        "import importlib\nimport json\n\nfrom greenpipe import CodeRef, Dataset, Output, pipeline, step\n\n\n"
        "@step\ndef apply(out: Output[Dataset], fn: CodeRef = 'helpers:transform') -> None:\n"
        "    module, _, name = fn.partition(':')\n"
        "    func = getattr(importlib.import_module(module), name)\n"
        "    with open(out.path, 'w') as handle:\n        json.dump(func([1, 2]), handle)\n\n\n"
        "@pipeline\ndef byname() -> None:\n    apply()\n"
    )
    assert statuses(cli.json("run", "byname.py:byname")) == {"apply": "ran"}
    assert statuses(cli.json("run", "byname.py:byname")) == {"apply": "cached"}
    helpers = project / "helpers.py"
    helpers.write_text(helpers.read_text().replace("v * SCALE", "v * SCALE - 1"))
    assert plan_of(cli.json("plan", "byname.py:byname"))["apply"] == ("run", "code changed in helpers.transform")

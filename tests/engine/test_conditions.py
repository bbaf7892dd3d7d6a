"""when(...) gates steps on another step's returned value; a skip says why and credits what it avoided."""

from cli_runs import statuses


def test_false_condition_skips_with_reason_and_credits_last_measured_run(cli):
    first = cli.json("run", "pipe.py:demo", "--param", "limit=5")  # sum 0..4 x2 = 20 > 5: total runs
    assert statuses(first)["total"] == "ran"
    gated = cli.json("run", "pipe.py:demo", "--param", "limit=100")
    total = next(s for s in gated["steps"] if s["name"] == "total")
    assert total["status"] == "skipped"
    assert total["reason"] == "condition check.big == True is false"
    ran_total = next(s for s in first["steps"] if s["name"] == "total")
    assert total["avoided_wh"] == ran_total["energy_wh"] > 0
    shown = cli.json("show", gated["run_id"])
    credit = next(c for c in shown["credits"] if c["step"] == "total")
    assert credit["kind"] == "gated_skip" and credit["traced_to"] == f"exec:{ran_total['exec_id']}"


def test_true_condition_runs_the_gated_step(cli):
    doc = cli.json("run", "pipe.py:demo", "--param", "n=10")
    assert statuses(doc)["total"] == "ran"

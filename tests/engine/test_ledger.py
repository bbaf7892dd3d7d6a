"""The ledger's figures follow the published formula and the shipped intensity table, and name their method."""

import pytest

from greenpipe.errors import GreenpipeError
from greenpipe.ledger import formula_kwh, grid_intensity, intensity_table


def test_formula_is_green_algorithms_on_measured_cpu_time_and_memory():
    # 3600 CPU-seconds at 12 W/core = 12 Wh; 2 GB held for 3600 s at 0.3725 W/GB = 0.745 Wh; x PUE 1.135
    assert formula_kwh(3600, 3600, 2.0, w_per_core=12, pue=1.135) == pytest.approx((12 + 0.745) * 1.135 / 1000)


def test_every_intensity_row_names_its_source_and_year():
    table = intensity_table()
    rows = list(table["regions"].values()) + list(table["countries"].values())
    assert len(table["regions"]) >= 20 and len(table["countries"]) >= 100
    assert all(row["source"] and 1990 < int(row["year"]) <= 2026 and row["g_per_kwh"] >= 0 for row in rows)


def test_region_and_country_lookup_and_unknown_region_error(monkeypatch):
    stockholm = grid_intensity("eu-north-1")
    assert stockholm.g_per_kwh < grid_intensity("ap-south-1").g_per_kwh
    assert grid_intensity("FRA").name == "France"
    monkeypatch.setenv("GREENPIPE_REGION", "eu-west-3")
    assert grid_intensity().key == "eu-west-3"
    with pytest.raises(GreenpipeError, match="region='atlantis' is not in"):
        grid_intensity("atlantis")


def test_run_in_a_cleaner_region_emits_less_for_the_same_energy(cli):
    dirty = cli.json("run", "pipe.py:demo", "--region", "ap-south-1", "--force", "make")
    clean = cli.json("run", "pipe.py:demo", "--region", "eu-north-1", "--force", "make")
    ratio = grid_intensity("eu-north-1").g_per_kwh / grid_intensity("ap-south-1").g_per_kwh
    for d, c in zip(dirty["steps"], clean["steps"], strict=True):
        assert c["co2e_g"] == pytest.approx(c["energy_wh"] / 1000 * grid_intensity("eu-north-1").g_per_kwh)
        assert d["co2e_g"] == pytest.approx(d["energy_wh"] / 1000 * grid_intensity("ap-south-1").g_per_kwh)
    assert clean["region"] == "eu-north-1" and ratio < 0.05


@pytest.mark.slow
def test_codecarbon_method_is_recorded_when_asked(cli):
    pytest.importorskip("codecarbon")
    doc = cli.json("run", "pipe.py:demo", "--energy", "codecarbon")
    shown = cli.json("show", doc["run_id"])
    assert {s["method"] for s in shown["steps"]} == {"codecarbon"}
    assert all(s["energy_wh"] > 0 for s in shown["steps"])


def test_regions_ranks_by_intensity_marks_the_current_one_and_prices_the_last_run(cli):
    run = cli.json("run", "pipe.py:demo")
    doc = cli.json("regions", "--region", "eu-west-1")
    intensities = [r["g_per_kwh"] for r in doc["regions"]]
    assert intensities == sorted(intensities) and len(intensities) >= 20
    assert [r["region"] for r in doc["regions"] if r["current"]] == ["eu-west-1"]
    assert doc["last_run"] == run["run_id"]
    kwh = sum(s["energy_wh"] for s in run["steps"]) / 1000
    for row in doc["regions"]:
        assert row["last_run_co2e_g"] == pytest.approx(kwh * row["g_per_kwh"])
        assert row["source"] and row["year"]
    text = cli("regions").stdout
    assert "eu-north-1" in text.splitlines()[2]  # the cleanest grid first


def test_credit_kinds_are_registered_by_the_components_that_credit_them():
    """In a fresh interpreter: the engine knows no component's kind until the component's step module is imported."""
    import subprocess
    import sys

    code = """
from greenpipe.errors import GreenpipeError
from greenpipe.ledger import Credit, CreditBook, credit_label
book = CreditBook()
try:
    book.add(Credit("pruning", 0.1, "exec-1"))
    raise SystemExit("pruning was accepted before bayes_tune registered it")
except GreenpipeError as exc:
    assert "register_credit_kind" in str(exc), exc
import greenpipe.components.bayes_tune.step
book.add(Credit("pruning", 0.1, "exec-1"))
book.add(Credit("projection", 5.0, "exec-1"))
assert credit_label("pruning") == "pruned trials", credit_label("pruning")
assert abs(book.total_kwh - 0.1) < 1e-12, book.total_kwh  # a projection is never avoided energy
assert credit_label("from_a_project_not_imported") == "from_a_project_not_imported"
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr + done.stdout

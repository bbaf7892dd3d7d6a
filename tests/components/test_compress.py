"""compress: each form is a measured row (a failing converter is a row with its reason), the chosen one is within
the bar, predicts like the original, is registered as a new version whose card shows both, and its projected
saving is kept out of the measured ledger. Real sklearn, skl2onnx, onnxruntime, Runner and store."""

import json
import pickle
from pathlib import Path

import pytest

from greenpipe import Dataset, Metrics, Model, Output, pipeline, step
from greenpipe.components.compress import OnnxModel, compress, register_compressed
from greenpipe.components.compress import candidates as cand_lib
from greenpipe.components.compress.errors import CompressError
from greenpipe.components.register import aliases, card_folder, get_version, read_card, register
from greenpipe.runner import Runner
from greenpipe.store import Store

TARGET = "label"
pytest.importorskip("skl2onnx")
pytest.importorskip("onnxruntime")


@step(description="A synthetic 8-feature classification set, split into train and test")
def make_data(train: Output[Dataset], test: Output[Dataset], rows: int = 1500) -> None:
    import pandas as pd
    from sklearn.datasets import make_classification

    x, y = make_classification(rows, 8, n_informative=5, random_state=0)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(8)]).assign(**{TARGET: y})
    cut = int(rows * 0.7)
    frame.iloc[:cut].to_parquet(train.path, index=False)
    frame.iloc[cut:].to_parquet(test.path, index=False)


class Opaque:
    """A classifier no converter knows (wraps a fitted forest): compress must fall back, not crash."""

    def __init__(self, inner):
        self.inner = inner
        self.classes_ = inner.classes_

    def predict(self, x):
        return self.inner.predict(x)

    def predict_proba(self, x):
        return self.inner.predict_proba(x)


@step(description="Fit a model family on arrays and write spot_train's model folder")
def fit(train: Dataset, model: Output[Model], family: str = "random_forest") -> None:
    import pandas as pd
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    frame = pd.read_parquet(train.path)
    features = [c for c in frame.columns if c != TARGET]
    x, y = frame[features].to_numpy(), frame[TARGET].to_numpy()
    estimators = {
        "random_forest": lambda: RandomForestClassifier(n_estimators=40, random_state=0),
        "logistic": lambda: LogisticRegression(max_iter=500),
        "mlp": lambda: MLPClassifier((64, 32), max_iter=300, random_state=0),
        "opaque": lambda: Opaque(RandomForestClassifier(n_estimators=20, random_state=0).fit(x, y)),
    }
    clf = estimators[family]()
    if family != "opaque":
        clf.fit(x, y)
    Path(model.path).mkdir()
    with open(Path(model.path) / "model.pkl", "wb") as handle:
        pickle.dump(clf, handle)
    spec = {"estimator": family, "features": features, "target": TARGET, "params": {}}
    (Path(model.path) / "model.json").write_text(json.dumps(spec))


@step(description="Accuracy on the test rows")
def evaluate(model: Model, test: Dataset, metrics: Output[Metrics]) -> None:
    import pandas as pd

    with open(Path(model.path) / "model.pkl", "rb") as handle:
        clf = pickle.load(handle)  # produced by this test in the store
    frame = pd.read_parquet(test.path)
    metrics.log_metric(
        "accuracy", float((clf.predict(frame.drop(columns=[TARGET]).to_numpy()) == frame[TARGET]).mean())
    )


@pipeline(name="fit_and_compress")
def fit_and_compress(family: str = "random_forest", max_drop: float = 0.5, name: str = "clf") -> None:
    data = make_data()
    fitted = fit(train=data.train, family=family)
    scored = evaluate(model=fitted.model, test=data.test)
    registered = register(model=fitted.model, metrics=scored.metrics, validation=data.test, model_name=name)
    packed = compress(
        model=fitted.model, validation=data.test, data=data.train, max_metric_drop=max_drop, measure_budget_s=0.2
    )
    register_compressed(compressed=packed.compressed, report=packed.report, model_name=name, after=registered.card)


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("GREENPIPE_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    return Store(tmp_path / "home")


def run(store, **params):
    result = Runner(fit_and_compress, params, store=store).run()
    failed = [s for s in result.steps if s.status == "failed"]
    assert not failed, failed[0].error
    return result


def tradeoffs(store, result):
    return json.loads((store.object_path(result.step("compress").outputs["report"]) / "tradeoffs.json").read_text())


def test_forest_gets_a_row_per_form_and_the_cheapest_within_the_bar_is_registered_with_both_scores(store):
    result = run(store, family="random_forest")
    table = tradeoffs(store, result)
    rows = {r["name"]: r for r in table["rows"]}
    assert list(rows) == ["original", "onnx", "onnx_int8", "trees_50pct", "trees_25pct"]
    assert rows["onnx"]["ok"] and rows["onnx"]["agreement"] >= 0.95  # float32 thresholds: a few rows flip
    assert not rows["onnx_int8"]["ok"] and "int8" in rows["onnx_int8"]["reason"]  # trees have no weights to quantise
    for row in (r for r in rows.values() if r["ok"]):
        for key in ("p50_ms_b1", "p99_ms_b1", "p50_ms_b1000", "p99_ms_b1000", "cpu_s_per_1000", "size_bytes"):
            assert row[key] > 0
        assert row["p99_ms_b1"] >= row["p50_ms_b1"]
    assert rows["trees_25pct"]["size_bytes"] < rows["trees_50pct"]["size_bytes"] < rows["onnx"]["size_bytes"]
    chosen = rows[table["chosen"]]
    assert chosen["within_bar"] and chosen["drop_pts"] <= 0.5
    values = result.step("compress").values
    assert values["chosen"] == table["chosen"] != "original"
    assert values["size_ratio"] == pytest.approx(chosen["size_bytes"] / rows["original"]["size_bytes"])

    # registered as a new version, not promoted; its card shows the original's and the compressed scores
    assert result.step("register_compressed").values == {"version": 2, "chosen": table["chosen"]}
    assert aliases(store, "clf") == {"candidate": 1, "champion": 1, "compressed": 2}
    record = get_version(store, "clf", 2)
    assert record.model_digest == result.step("compress").outputs["compressed"]
    assert record.approval == "PendingManualApproval"
    card = read_card(store, "clf", 2)
    groups = {g["name"]: g for e in card["evaluation_details"] for g in e["metric_groups"]}
    assert groups["original"]["metric_data"][0]["value"] == pytest.approx(rows["original"]["metric"])
    assert {m["name"]: m["value"] for m in groups["metrics"]["metric_data"]}["accuracy"] == pytest.approx(
        chosen["metric"]
    )
    details = card["additional_information"]["custom_details"]
    assert details["compressed_from"] == result.step("fit").outputs["model"]
    assert "Compression trade-offs" in (card_folder(store, "clf", 2) / "card.md").read_text()

    # the compressed folder scores like the row says, through sklearn's calling convention
    folder = store.object_path(record.model_digest)
    with open(folder / "model.pkl", "rb") as handle:
        clf = pickle.load(handle)  # the artifact compress just wrote in this test's store
    test = __import__("pandas").read_parquet(store.object_path(result.step("make_data").outputs["test"]))
    accuracy = float((clf.predict(test.drop(columns=[TARGET]).to_numpy()) == test[TARGET]).mean())
    assert accuracy == pytest.approx(chosen["metric"])
    assert json.loads((folder / "model.json").read_text())["form"] == chosen["name"]


def test_projected_saving_is_a_projection_credit_never_avoided_energy(store):
    result = run(store, family="random_forest")
    step_result = result.step("compress")
    projections = store.projections_of(step_result.exec_id)
    table = tradeoffs(store, result)
    saved = table["projection"]["saved_kwh_per_million"]
    if saved > 0:
        assert [p["kind"] for p in projections] == ["projection"]
        assert projections[0]["energy_kwh"] == pytest.approx(saved)
        assert "CPU s per 1,000 predictions" in projections[0]["traced_to"]
    assert store.credits_of(step_result.exec_id) == []
    assert step_result.avoided_wh == 0.0


def test_mlp_gets_an_int8_row_and_a_zero_bar_keeps_only_forms_that_lose_nothing(store):
    result = run(store, family="mlp", max_drop=0.0)
    rows = {r["name"]: r for r in tradeoffs(store, result)["rows"]}
    assert rows["onnx_int8"]["ok"] and rows["onnx_int8"]["size_bytes"] < rows["onnx"]["size_bytes"]
    chosen = rows[result.step("compress").values["chosen"]]
    assert chosen["drop_pts"] <= 0.0


def test_a_model_no_converter_knows_is_a_row_with_its_reason_and_a_distilled_tree_is_tried(store):
    result = run(store, family="opaque", max_drop=100.0)
    rows = {r["name"]: r for r in tradeoffs(store, result)["rows"]}
    assert not rows["onnx"]["ok"] and "skl2onnx cannot convert Opaque" in rows["onnx"]["reason"]
    assert rows["distilled_tree"]["ok"] and rows["distilled_tree"]["size_bytes"] < rows["original"]["size_bytes"]
    assert 0.5 < rows["distilled_tree"]["agreement"] <= 1.0


def test_without_the_onnx_extra_the_step_still_runs_and_says_what_to_install(store, monkeypatch):
    monkeypatch.setattr(
        cand_lib, "onnx_available", lambda: "skl2onnx is not installed: pip install 'greenpipe[compress]'"
    )
    result = run(store, family="random_forest")
    rows = {r["name"]: r for r in tradeoffs(store, result)["rows"]}
    assert "greenpipe[compress]" in rows["onnx"]["reason"] and not rows["onnx"]["ok"]
    assert rows["trees_25pct"]["ok"] and rows["trees_25pct"]["route"].endswith("(pickle)")


def test_onnx_model_pickles_without_its_session_and_predicts_after_unpickling():
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from greenpipe.components.compress.onnx_model import to_onnx

    x = np.random.default_rng(0).normal(size=(200, 4))
    y = (x[:, 0] > 0).astype(int)
    clf = LogisticRegression().fit(x, y)
    model = OnnxModel(to_onnx(clf, 4), form="onnx", n_features=4, classes=clf.classes_)
    model.predict(x)
    again = pickle.loads(pickle.dumps(model))
    assert again._session is None
    assert (again.predict(x) == clf.predict(x)).all()
    assert np.allclose(again.predict_proba(x), clf.predict_proba(x), atol=1e-5)


@pytest.mark.parametrize(
    "params, field",
    [({"max_metric_drop": -1.0}, "max_metric_drop=-1.0"), ({"metric": "precision"}, "metric='precision'")],
)
def test_bad_parameters_name_the_field_and_the_fix(tmp_path, monkeypatch, params, field):
    monkeypatch.setenv("GREENPIPE_HOME", str(tmp_path / "home"))
    model_dir = tmp_path / "m"
    model_dir.mkdir()
    (model_dir / "model.pkl").write_bytes(pickle.dumps(None))
    (model_dir / "model.json").write_text("{}")
    args = {
        "model": Model(model_dir),
        "validation": Dataset(tmp_path / "none.parquet"),
        "compressed": Model(tmp_path / "c"),
        "report": Model(tmp_path / "r"),
        "metrics": Metrics(tmp_path / "x.json"),
    }
    with pytest.raises(CompressError, match=field.replace("(", r"\(").replace("[", r"\[")):
        compress.fn(**args, **params)


def test_compiles_to_a_kfp_component_and_a_validated_sagemaker_processing_step(tmp_path):
    from greenpipe.backends.sagemaker import step_template

    template = step_template(compress)
    assert template["operation"] == "CreateProcessingJob"
    assert {"model", "validation"} <= set(template["parameters"])
    pytest.importorskip("kfp")
    from greenpipe.backends.kfp import component_yaml

    out = tmp_path / "compress.yaml"
    component_yaml(compress, str(out))
    assert "greenpipe_code" in out.read_text()


def test_two_fresh_stores_get_the_same_compressed_model_and_metrics(tmp_path, monkeypatch):
    """Timings differ between runs and go to the report only: the model, metrics and values are the same bytes."""
    results = []
    for name in ("a", "b"):
        monkeypatch.setenv("GREENPIPE_HOME", str(tmp_path / name))
        store = Store(tmp_path / name)
        result = run(store, family="random_forest")
        results.append((store, result.step("compress")))
    (_, first), (_, second) = results
    assert first.outputs["compressed"] == second.outputs["compressed"]
    assert first.outputs["metrics"] == second.outputs["metrics"]
    assert first.values == second.values

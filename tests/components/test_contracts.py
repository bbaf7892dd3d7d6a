"""The components' shared contracts: the metric registry, the model folder, the estimator table, GE's bootstrap."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.base import is_classifier, is_regressor
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LinearRegression, LogisticRegression

from greenpipe.components.contracts import estimators, model_folder
from greenpipe.components.contracts.metrics import METRICS, NEGATED_ALIASES, UnknownMetric, metric, metrics_for
from greenpipe.errors import GreenpipeError


@pytest.fixture(scope="module")
def binary():
    X, y = make_classification(n_samples=300, n_features=6, random_state=0)
    labels = np.where(y == 1, "rain", "dry")  # string labels: the positive class is the greater one, "rain"
    return LogisticRegression(max_iter=500).fit(X[:200], labels[:200]), X[200:], labels[200:]


@pytest.fixture(scope="module")
def three_classes():
    X, y = make_classification(n_samples=400, n_features=8, n_informative=5, n_classes=3, random_state=1)
    return LogisticRegression(max_iter=500).fit(X[:300], y[:300]), X[300:], y[300:]


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(n_samples=300, n_features=5, noise=10.0, random_state=2)
    return LinearRegression().fit(X[:200], y[:200]), X[200:], y[200:]


def test_binary_metrics_equal_sklearn_with_the_greater_label_positive(binary):
    model, X, y = binary
    pred, proba = model.predict(X), model.predict_proba(X)
    expected = {
        "accuracy": skm.accuracy_score(y, pred),
        "balanced_accuracy": skm.balanced_accuracy_score(y, pred),
        "f1": skm.f1_score(y, pred, pos_label="rain"),
        "roc_auc": skm.roc_auc_score(y == "rain", proba[:, 1]),
        "log_loss": skm.log_loss(y, proba, labels=model.classes_),
    }
    for name, value in expected.items():
        assert metric(name).score(model, X, y) == pytest.approx(value, abs=1e-12), name


def test_multiclass_metrics_equal_sklearn_macro_and_one_vs_rest(three_classes):
    model, X, y = three_classes
    proba = model.predict_proba(X)
    assert metric("f1").score(model, X, y) == pytest.approx(skm.f1_score(y, model.predict(X), average="macro"))
    assert metric("roc_auc").score(model, X, y) == pytest.approx(skm.roc_auc_score(y, proba, multi_class="ovr"))


def test_regression_metrics_equal_sklearn(regression):
    model, X, y = regression
    pred = model.predict(X)
    assert metric("r2").score(model, X, y) == pytest.approx(skm.r2_score(y, pred))
    assert metric("rmse").score(model, X, y) == pytest.approx(skm.mean_squared_error(y, pred) ** 0.5)
    assert metric("mae").score(model, X, y) == pytest.approx(skm.mean_absolute_error(y, pred))


def test_direction_follows_what_better_means():
    lower = {name for name, m in METRICS.items() if not m.higher_is_better}
    assert lower == {"log_loss", "rmse", "mae"}
    assert metric("rmse").direction == "minimize" and metric("accuracy").direction == "maximize"
    assert metric("rmse").gain(2.0, 3.0) == 1.0 and metric("accuracy").gain(0.8, 0.9) == pytest.approx(-0.1)
    assert {m.name for m in METRICS.values() if m.needs_probabilities} == {"roc_auc", "log_loss"}
    assert metrics_for("regression") == ["r2", "rmse", "mae"]


def test_a_maximised_error_metric_is_its_negation_under_the_old_name(regression):
    model, X, y = regression
    for old, name in NEGATED_ALIASES.items():
        turned = metric(name).maximised()
        assert turned.name == old and turned.higher_is_better and turned.best == 0.0
        assert turned.score(model, X, y) == -metric(name).score(model, X, y) < 0
        assert pickle.loads(pickle.dumps(turned)).score(model, X, y) == turned.score(model, X, y)
    assert metric("r2").maximised() is metric("r2")


def test_small_sample_names_the_negated_metric_to_use_for_an_error_metric():
    import pandas as pd

    from greenpipe.components.small_sample.scoring import infer_task, resolve_metric

    y = pd.Series([0.5, 1.5, 2.25] * 10)
    with pytest.raises(GreenpipeError, match=r"metric='rmse' is lower-is-better .* pass metric='neg_rmse' and give"):
        infer_task(y, "auto", "rmse")
    assert resolve_metric("neg_mae", infer_task(y, "auto", "neg_mae")) == metric("mae").maximised()


def test_an_unknown_metric_names_the_field_and_the_choices():
    with pytest.raises(UnknownMetric, match=r"kpi='precision' is not a metric this step computes: use one of acc"):
        metric("precision", field="kpi", allowed=("accuracy", "roc_auc", "r2"))
    with pytest.raises(
        UnknownMetric, match=r"metric='rmse' is not a metric bayes_tune computes: use one of accuracy, roc_auc$"
    ):
        metric("rmse", allowed=("accuracy", "roc_auc"), computed_by="bayes_tune")


def test_roc_auc_ranks_by_decision_function_when_there_are_no_probabilities():
    from sklearn.svm import LinearSVC

    X, y = make_classification(n_samples=200, random_state=3)
    model = LinearSVC().fit(X, y)
    assert metric("roc_auc").score(model, X, y) == pytest.approx(skm.roc_auc_score(y, model.decision_function(X)))
    with pytest.raises(GreenpipeError, match="metric='log_loss' needs class probabilities but LinearSVC has no"):
        metric("log_loss").score(model, X, y)


def test_model_folder_round_trip(tmp_path, regression):
    model = regression[0]
    described = model_folder.ModelDescription(
        features=["a", "b"], target="y", estimator="linear", params={"fit_intercept": True}, details={"form": "tree"}
    )
    written = model_folder.write_model_folder(tmp_path / "m", pickle.dumps(model), described, {"model.onnx": b"x"})
    opened = model_folder.ModelFolder.open(tmp_path / "m")
    assert opened == written and opened.description() == described and opened.description().form == "tree"
    assert np.array_equal(opened.load().coef_, model.coef_)
    assert np.array_equal(model_folder.load_model(tmp_path / "m").coef_, model.coef_)
    assert (tmp_path / "m" / "model.onnx").read_bytes() == b"x"
    assert model_folder.read_description(tmp_path / "m") == described


def test_model_json_without_features_means_every_column_but_the_target(tmp_path):
    (tmp_path / "model.json").write_text("{}")
    described = model_folder.read_description(tmp_path)
    assert described is not None and described.form == "original"
    assert model_folder.ModelDescription(target="y").feature_columns(["x1", "y", "x2"]) == ["x1", "x2"]


def test_a_folder_that_is_not_a_model_folder_is_refused_by_name(tmp_path):
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(1))
    with pytest.raises(model_folder.NotAModelFolder, match=r"compressed input .* lacks model.json\. Pass the model"):
        model_folder.ModelFolder.open(tmp_path, field="compressed")
    assert model_folder.read_description(tmp_path) is None
    assert model_folder.load_model(tmp_path / "model.pkl") == 1  # a bare pickle file is a model too


def test_every_estimator_row_imports_a_class_of_its_task():
    for row in estimators.ESTIMATORS:
        made = row.make()
        assert (is_classifier if row.task == "classification" else is_regressor)(made), row
        assert type(made).__name__ == row.class_name


def test_the_two_vocabularies_meet_in_the_table():
    assert estimators.class_name_of("hist_gradient_boosting") == "HistGradientBoostingClassifier"
    assert estimators.class_name_of("logistic") == "LogisticRegression"  # bayes_tune's name of the family
    assert estimators.class_name_of("MLPRegressor") == "MLPRegressor"
    assert estimators.class_name_of("mlp", "regression") == "MLPRegressor"
    assert estimators.class_name_of("my_pkg.train:fit") == "my_pkg.train:fit"  # a user's code reference
    assert estimators.estimator("linear", "regression").class_name == "Ridge"
    row = estimators.by_class_name("RandomForestRegressor")
    assert row is not None and (row.family, row.task) == ("random_forest", "regression")
    with pytest.raises(estimators.UnknownEstimator, match=r"estimator='svc' is not a regression estimator family"):
        estimators.estimator("svc", "regression")


@pytest.mark.slow
def test_the_quality_bootstrap_validates_a_frame_with_great_expectations():
    import pandas as pd

    from greenpipe.components.contracts.quality import ephemeral_context, import_great_expectations, validate_frame

    context = ephemeral_context()
    gx = import_great_expectations()
    suite = gx.ExpectationSuite(name="s")
    suite.add_expectation(gx.expectations.ExpectColumnValuesToNotBeNull(column="x"))
    suite.add_expectation(gx.expectations.ExpectColumnValuesToBeInSet(column="s", value_set=["a", "b"]))
    frame = pd.DataFrame({"x": [1.0, None, 3.0], "s": pd.Series(["a", "b", "c"], dtype="str")})
    outcome = validate_frame(context, suite, frame)
    failed = sorted(r.expectation_config.type for r in outcome.results if not r.success)
    assert failed == ["expect_column_values_to_be_in_set", "expect_column_values_to_not_be_null"]


def test_the_metric_name_choices_are_exactly_the_registry():
    import typing

    from greenpipe.components.contracts.metrics import METRICS, MetricName

    assert typing.get_args(MetricName) == tuple(METRICS)

"""bayes_tune's fidelity promise: what a trial trained is exactly what best_params says.

A user (or spot_train) who builds the estimator from best_params["params"] and fits it on the same rows must get
the model the best trial scored, whatever the pruner and fidelity the search used.
"""

from __future__ import annotations

import importlib
import json

import pandas as pd
import pytest

from greenpipe import Artifact, Dataset, Metrics
from greenpipe.components.bayes_tune import bayes_tune
from greenpipe.components.bayes_tune.estimators import family
from greenpipe.components.bayes_tune.objective import Holdout, score


@pytest.fixture()
def breast_cancer(tmp_path):
    from sklearn.datasets import load_breast_cancer

    path = tmp_path / "bc.parquet"
    load_breast_cancer(as_frame=True).frame.to_parquet(path)
    return path


def _tune(tmp_path, data, monkeypatch, **params):
    monkeypatch.setenv("GREENPIPE_HOME", str(tmp_path / "home"))
    best_path = tmp_path / "best.json"
    bayes_tune(
        Dataset(data),
        Artifact(best_path),
        Dataset(tmp_path / "history.parquet"),
        Metrics(tmp_path / "metrics.json"),
        target="target",
        **params,
    )
    return json.loads(best_path.read_text()), pd.read_parquet(tmp_path / "history.parquet")


def _refit_score(best, data, seed=0):
    """Fit the estimator best_params names, with exactly its params, on the tuner's split; score the holdout."""
    frame = pd.read_parquet(data)
    X, y = frame.drop(columns=["target"]).to_numpy(dtype="float64"), frame["target"].to_numpy()
    holdout = Holdout.split(X, y, 0.25, seed)
    module, cls = family(best["estimator"]).import_path.split(":")
    model = getattr(importlib.import_module(module), cls)(**best["params"])
    model.fit(holdout.X_train, holdout.y_train)
    return score(best["metric"], model, holdout.X_val, holdout.y_val)


@pytest.mark.parametrize(
    ("estimator", "pruner", "fidelity", "fraction"),
    [
        ("hist_gradient_boosting", "none", "auto", 1.0),  # the case: trials fitted at sklearn's default 100
        ("hist_gradient_boosting", "median", "iterations", 1.0),
        ("hist_gradient_boosting", "median", "sample", 0.5),
        ("random_forest", "none", "auto", 1.0),
        ("mlp", "median", "iterations", 1.0),  # warm-started epochs restart Adam: chunks are not one fit
    ],
)
def test_best_params_rebuild_the_model_the_best_trial_scored(
    tmp_path, breast_cancer, monkeypatch, estimator, pruner, fidelity, fraction
):
    best, history = _tune(
        tmp_path,
        breast_cancer,
        monkeypatch,
        estimator=estimator,
        pruner=pruner,
        fidelity=fidelity,
        sample_fraction=fraction,
        max_trials=2,
        metric="roc_auc",
    )
    fam = family(estimator)
    assert best["params"][fam.budget_param] == fam.budget_max
    assert best["value"] == history.loc[history["state"] == "COMPLETE", "value"].max()
    assert _refit_score(best, breast_cancer) == pytest.approx(best["value"], abs=1e-12)

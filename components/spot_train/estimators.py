"""Built-in trainers: scikit-learn incremental (partial_fit) and warm-startable estimators, one epoch at a time.

A trainer turns an estimator name and params into four operations the harness loop calls: `init_state`,
`epoch`, `metrics` and `to_model`. Each epoch draws its randomness from (seed, epoch), never from state
carried in memory only, so a run resumed from a checkpoint takes exactly the path an uninterrupted run takes.
"""

from __future__ import annotations

import math
from typing import Any

from greenpipe.components.contracts.estimators import by_class_name
from greenpipe.components.spot_train.train_data import TrainData, evaluate
from greenpipe.errors import GreenpipeError


def _module_and_task(class_name: str) -> tuple[str, str]:
    row = by_class_name(class_name)
    if row is None:  # a programming error: every built-in trainer is a row of the estimator table
        raise LookupError(f"{class_name} is not in greenpipe.components.contracts.estimators")
    return row.module, row.task


INCREMENTAL = {
    name: _module_and_task(name) for name in ("SGDClassifier", "SGDRegressor", "MLPClassifier", "MLPRegressor")
}
# class name -> (module, task, the param grown each epoch, its default growth per epoch)
WARM_START = {
    name: (*_module_and_task(name), grow, 10)
    for name, grow in (
        ("HistGradientBoostingClassifier", "max_iter"),
        ("HistGradientBoostingRegressor", "max_iter"),
        ("RandomForestClassifier", "n_estimators"),
        ("RandomForestRegressor", "n_estimators"),
    )
}
TORCH = {"TorchMLPClassifier": "classification", "TorchMLPRegressor": "regression"}
BUILT_IN = [*INCREMENTAL, *WARM_START, *TORCH]


class Diverged(Exception):
    """An epoch produced non-finite weights (sklearn's SGD raises on overflow); reported as a NaN loss."""


def epoch_rng(seed: int, epoch: int) -> Any:
    import numpy as np

    return np.random.default_rng([seed, epoch])


class SklearnTrainer:
    """partial_fit estimators (one pass over shuffled, standardised data per epoch) and warm-start ones
    (HistGradientBoosting grows max_iter, RandomForest grows n_estimators, by `*_per_epoch` each epoch)."""

    def __init__(self, name: str, params: dict[str, Any], seed: int):
        self.name = name
        self.seed = seed
        params = dict(params)
        if name in INCREMENTAL:
            module, self.task = INCREMENTAL[name]
            self.grow, self.per_epoch = None, 0
            if name == "SGDClassifier":
                params.setdefault("loss", "log_loss")
        else:
            module, self.task, self.grow, default = WARM_START[name]
            self.per_epoch = int(params.pop(f"{self.grow}_per_epoch", default))
            params.pop(self.grow, None)
            params["warm_start"] = True
            if name.startswith("HistGradientBoosting"):
                params.setdefault("early_stopping", False)
        params.setdefault("random_state", seed)
        self.params = params
        import importlib

        self.cls = getattr(importlib.import_module(module), name)
        try:
            probe = self.cls(**params)
        except TypeError as exc:
            raise GreenpipeError(f"spot_train: estimator_params {params} do not fit {name}: {exc}") from exc
        if self.task == "classification" and not hasattr(probe, "predict_proba"):
            raise GreenpipeError(
                f"spot_train: {name} with {params} gives no probabilities; use a probabilistic "
                "loss (SGDClassifier loss='log_loss' or 'modified_huber')"
            )

    def init_state(self, data: TrainData, warm: Any = None) -> dict[str, Any]:
        from sklearn.preprocessing import StandardScaler

        if warm is not None:
            scaler, est = _split_pipeline(warm)
            if type(est).__name__ != self.name:
                raise GreenpipeError(
                    f"spot_train: warm_start model is a {type(est).__name__}, not {self.name}; "
                    "continue from a model of the same estimator"
                )
            if self.grow:
                est.set_params(warm_start=True)
            return {"scaler": scaler, "est": est, "base": self._size(est)}
        scaler = StandardScaler().fit(data.X) if self.grow is None else None
        return {"scaler": scaler, "est": self.cls(**self.params), "base": 0}

    def _size(self, est: Any) -> int:
        if self.grow == "max_iter":
            return int(getattr(est, "n_iter_", 0))
        if self.grow == "n_estimators":
            return len(getattr(est, "estimators_", []))
        return 0

    def epoch(self, state: dict[str, Any], epoch: int, data: TrainData) -> dict[str, Any]:
        import numpy as np

        est = state["est"]
        if self.grow is None:
            order = epoch_rng(self.seed, epoch).permutation(len(data.y))
            X = state["scaler"].transform(data.X[order]) if state["scaler"] is not None else data.X[order]
            kwargs = {"classes": np.unique(data.y)} if self.task == "classification" else {}
            try:
                est.partial_fit(X, data.y[order], **kwargs)
            except ValueError as exc:
                if "overflow" in str(exc) or "NaN" in str(exc) or "infinity" in str(exc):
                    raise Diverged(str(exc)) from exc
                raise
        else:
            est.set_params(**{self.grow: state["base"] + self.per_epoch * (epoch + 1)})
            est.fit(data.X, data.y)
        return state

    def metrics(self, state: dict[str, Any], data: TrainData) -> dict[str, float]:
        return evaluate(self.task, self.to_model(state), data)

    def to_model(self, state: dict[str, Any]) -> Any:
        from sklearn.pipeline import Pipeline

        if state["scaler"] is None:
            return state["est"]
        return Pipeline([("scale", state["scaler"]), ("model", state["est"])])


def _split_pipeline(model: Any) -> tuple[Any, Any]:
    steps = getattr(model, "steps", None)
    if steps and len(steps) == 2:
        return steps[0][1], steps[1][1]
    return None, model


def make_trainer(name: str, params: dict[str, Any], seed: int) -> Any:
    if name in INCREMENTAL or name in WARM_START:
        return SklearnTrainer(name, params, seed)
    if name in TORCH:
        from greenpipe.components.spot_train.torch_loop import TorchTrainer

        return TorchTrainer(name, TORCH[name], params, seed)
    raise GreenpipeError(
        f"spot_train: estimator={name!r} is not built in; use one of {', '.join(BUILT_IN)}, "
        "or 'package.module:function' for your own training function"
    )


def fit_loop(trainer: Any, data: TrainData, warm: Any = None) -> Any:
    """The training function for a built-in trainer: resume, one epoch per step, report, checkpoint, stop."""

    def train(ctx: Any) -> Any:
        state = ctx.load_checkpoint()
        if state is None:
            state = trainer.init_state(data, warm)
        for epoch in range(ctx.start_step, ctx.max_steps):
            try:
                state = trainer.epoch(state, epoch, data)
                metrics = trainer.metrics(state, data)
            except Diverged:
                ctx.report(epoch + 1, loss=math.nan)
                if ctx.should_stop():
                    return state
                raise
            if ctx.end_step(epoch + 1, state, **metrics):
                break
        return state

    return train

"""The metric registry: every metric a component computes, its task, direction, what it needs and how it is scored.

One table for small_sample, bayes_tune, register, compress and drift_gate, so a metric means the same thing (and
is better in the same direction) wherever it is named. Names are scikit-learn's scorer names without the `neg_`
prefix: `rmse` and `mae` are errors, lower is better. A component that can only maximise (small_sample's
learning curves) asks for `Metric.maximised()`, which is the negated metric under the old `neg_` name.

Binary classification scores the greater label as the positive class (sklearn's `classes_[1]`), for F1 and for
ROC AUC alike; more than two classes are macro-averaged (F1) or one-vs-rest (ROC AUC).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

from greenpipe.errors import GreenpipeError

TASKS = ("classification", "regression")


class UnknownMetric(GreenpipeError):
    """A metric name the registry does not hold."""


@dataclass(frozen=True)
class Metric:
    """A named metric: its task, direction, what it scores from, and the function computing it."""

    name: str
    task: str  # classification | regression
    higher_is_better: bool
    needs_probabilities: bool  # scored from predict_proba (or decision_function for ranking), not predict
    # The SageMaker model card's name for it: the card schema's objective facets are only Accuracy, AUC, Loss,
    # MAE and RMSE, so the other metrics have none.
    card_facet: str | None
    best: float  # the value no model can beat (caps learning-curve predictions)
    compute: Callable[[Any, Any, Any], float]  # (y_true, predictions or scores, classes) -> value

    @property
    def direction(self) -> str:
        """'maximize' or 'minimize', as optimisers (optuna, SageMaker tuning) spell a direction."""
        return "maximize" if self.higher_is_better else "minimize"

    def model_output(self, model: Any, X: Any) -> Any:
        """What this metric is computed from: class probabilities or ranking scores, else predictions."""
        if not self.needs_probabilities:
            return model.predict(X)
        if hasattr(model, "predict_proba"):
            return model.predict_proba(X)
        if self.name == "roc_auc" and hasattr(model, "decision_function"):
            return model.decision_function(X)  # a ranking is all ROC AUC needs
        raise GreenpipeError(
            f"metric={self.name!r} needs class probabilities but {type(model).__name__} has no predict_proba; "
            "use a probabilistic model (e.g. SVC(probability=True)) or a metric computed from predictions"
        )

    def of(self, y_true: Any, output: Any, classes: Any = None) -> float:
        """The metric from labels and `model_output` (classes: the model's `classes_`, else the labels seen)."""
        return float(self.compute(y_true, output, classes))

    def score(self, model: Any, X: Any, y: Any) -> float:
        """The metric of a fitted model on (X, y)."""
        return self.of(y, self.model_output(model, X), getattr(model, "classes_", None))

    def gain(self, new: float, old: float) -> float:
        """How much better `new` is than `old` (negative when worse), whatever the direction."""
        return new - old if self.higher_is_better else old - new

    def maximised(self) -> Metric:
        """This metric turned to higher-is-better: itself, or its negation named `neg_<name>`."""
        if self.higher_is_better:
            return self
        return replace(
            self,
            name=f"neg_{self.name}",
            higher_is_better=True,
            card_facet=None,
            best=0.0 - self.best,  # 0.0, not -0.0, for an error metric whose best is 0
            compute=Negated(self.compute),
        )


@dataclass(frozen=True)
class Negated:
    """The negation of a metric function (a class, not a lambda, so a Metric stays picklable)."""

    compute: Callable[[Any, Any, Any], float]

    def __call__(self, y_true: Any, output: Any, classes: Any) -> float:
        return -self.compute(y_true, output, classes)


def _labels(y_true: Any, classes: Any) -> list[Any]:
    import numpy as np

    return list(classes) if classes is not None else list(np.unique(y_true))


def _accuracy(y_true: Any, predicted: Any, classes: Any) -> float:
    from sklearn.metrics import accuracy_score

    return float(accuracy_score(y_true, predicted))


def _balanced_accuracy(y_true: Any, predicted: Any, classes: Any) -> float:
    from sklearn.metrics import balanced_accuracy_score

    return float(balanced_accuracy_score(y_true, predicted))


def _f1(y_true: Any, predicted: Any, classes: Any) -> float:
    from sklearn.metrics import f1_score

    labels = _labels(y_true, classes)
    if len(labels) == 2:
        return float(f1_score(y_true, predicted, pos_label=labels[1]))
    return float(f1_score(y_true, predicted, average="macro"))


def _roc_auc(y_true: Any, scores: Any, classes: Any) -> float:
    import numpy as np
    from sklearn.metrics import roc_auc_score

    scores = np.asarray(scores)
    if scores.ndim == 2 and scores.shape[1] == 2:
        scores = scores[:, 1]
    if scores.ndim == 1:
        return float(roc_auc_score(y_true, scores))
    return float(roc_auc_score(y_true, scores, multi_class="ovr", labels=_labels(y_true, classes)))


def _log_loss(y_true: Any, probabilities: Any, classes: Any) -> float:
    from sklearn.metrics import log_loss

    return float(log_loss(y_true, probabilities, labels=classes))


def _r2(y_true: Any, predicted: Any, classes: Any) -> float:
    from sklearn.metrics import r2_score

    return float(r2_score(y_true, predicted))


def _rmse(y_true: Any, predicted: Any, classes: Any) -> float:
    from sklearn.metrics import root_mean_squared_error

    return float(root_mean_squared_error(y_true, predicted))


def _mae(y_true: Any, predicted: Any, classes: Any) -> float:
    from sklearn.metrics import mean_absolute_error

    return float(mean_absolute_error(y_true, predicted))


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("accuracy", "classification", True, False, "Accuracy", 1.0, _accuracy),
        Metric("balanced_accuracy", "classification", True, False, "Accuracy", 1.0, _balanced_accuracy),
        Metric("f1", "classification", True, False, None, 1.0, _f1),
        Metric("roc_auc", "classification", True, True, "AUC", 1.0, _roc_auc),
        Metric("log_loss", "classification", False, True, "Loss", 0.0, _log_loss),
        Metric("r2", "regression", True, False, None, 1.0, _r2),
        Metric("rmse", "regression", False, False, "RMSE", 0.0, _rmse),
        Metric("mae", "regression", False, False, "MAE", 0.0, _mae),
    )
}
# A step param that takes any registered metric is typed `MetricName`: the catalog, the docs and SageMaker
# parameters list the choices (tests/components/test_contracts.py checks it names exactly METRICS).
MetricName = Literal["accuracy", "balanced_accuracy", "f1", "roc_auc", "log_loss", "r2", "rmse", "mae"]
# The spellings small_sample used before the registry (sklearn's scorer names): the negated error metrics.
NEGATED_ALIASES = {"neg_rmse": "rmse", "neg_mae": "mae"}


def metric(
    name: str, field: str = "metric", allowed: tuple[str, ...] | None = None, computed_by: str = "this step"
) -> Metric:
    """The registered metric `name`; a clear error naming `field` when it is not one (or not in `allowed`)."""
    names = allowed if allowed is not None else tuple(METRICS)
    if name not in names or name not in METRICS:
        raise UnknownMetric(f"{field}={name!r} is not a metric {computed_by} computes: use one of {', '.join(names)}")
    return METRICS[name]


def metrics_for(task: str) -> list[str]:
    """The names of the registered metrics of one task, in registry order."""
    if task not in TASKS:
        raise GreenpipeError(f"task={task!r} must be one of {', '.join(TASKS)}")
    return [name for name, m in METRICS.items() if m.task == task]

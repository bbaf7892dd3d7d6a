"""The estimator table: one row per (family, task), naming the scikit-learn class that implements it.

Components name estimators in two vocabularies: families ("hist_gradient_boosting", as small_sample's candidates
and bayes_tune's search do, and as bayes_tune's model.json records) and class names ("HistGradientBoostingClassifier",
as spot_train takes and records). This table is the one bridge between them; a component keeps only what is its
own (small_sample's candidate settings, bayes_tune's search spaces, spot_train's epoch schedule).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from greenpipe.errors import GreenpipeError


class UnknownEstimator(GreenpipeError):
    """An estimator name the table does not hold."""


@dataclass(frozen=True)
class Estimator:
    family: str  # the family name: linear, random_forest, hist_gradient_boosting, ...
    task: str  # classification | regression
    import_path: str  # "module:Class"

    @property
    def module(self) -> str:
        return self.import_path.partition(":")[0]

    @property
    def class_name(self) -> str:
        return self.import_path.partition(":")[2]

    def estimator_class(self) -> Any:
        import importlib

        return getattr(importlib.import_module(self.module), self.class_name)

    def make(self, **params: Any) -> Any:
        """An unfitted estimator with `params` as its constructor arguments."""
        return self.estimator_class()(**params)


ESTIMATORS: tuple[Estimator, ...] = (
    Estimator("linear", "classification", "sklearn.linear_model:LogisticRegression"),
    Estimator("linear", "regression", "sklearn.linear_model:Ridge"),
    Estimator("sgd", "classification", "sklearn.linear_model:SGDClassifier"),
    Estimator("sgd", "regression", "sklearn.linear_model:SGDRegressor"),
    Estimator("svc", "classification", "sklearn.svm:SVC"),
    Estimator("random_forest", "classification", "sklearn.ensemble:RandomForestClassifier"),
    Estimator("random_forest", "regression", "sklearn.ensemble:RandomForestRegressor"),
    Estimator("hist_gradient_boosting", "classification", "sklearn.ensemble:HistGradientBoostingClassifier"),
    Estimator("hist_gradient_boosting", "regression", "sklearn.ensemble:HistGradientBoostingRegressor"),
    Estimator("mlp", "classification", "sklearn.neural_network:MLPClassifier"),
    Estimator("mlp", "regression", "sklearn.neural_network:MLPRegressor"),
)
# Other names for a family: bayes_tune calls the linear classifier "logistic" (its search tunes C).
FAMILY_ALIASES = {"logistic": "linear"}
FAMILIES = tuple(dict.fromkeys(e.family for e in ESTIMATORS))


def estimator(family: str, task: str, field: str = "estimator") -> Estimator:
    """The row of `family` (or an alias of it) for `task`; a clear error naming `field` when there is none."""
    canonical = FAMILY_ALIASES.get(family, family)
    for row in ESTIMATORS:
        if row.family == canonical and row.task == task:
            return row
    known = ", ".join(e.family for e in ESTIMATORS if e.task == task)
    raise UnknownEstimator(f"{field}={family!r} is not a {task} estimator family: use one of {known}")


def by_class_name(class_name: str) -> Estimator | None:
    """The row whose class is `class_name` (spot_train's vocabulary), or None."""
    return next((e for e in ESTIMATORS if e.class_name == class_name), None)


def class_name_of(name: str, task: str = "classification") -> str:
    """The class name for a model.json's `estimator`: a family (or alias) becomes its class for `task`; a class
    name, or a code reference to a user's training function, stays as it is."""
    canonical = FAMILY_ALIASES.get(name, name)
    if canonical in FAMILIES:
        return estimator(canonical, task).class_name
    return name

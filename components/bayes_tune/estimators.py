"""The estimators bayes_tune knows by name, their default search spaces, and how each grows in steps.

The names match small_sample's candidates ("logistic", "random_forest", "hist_gradient_boosting", "mlp"), plus
"svc". Tuned params are constructor arguments, so spot_train can pass best_params straight to the estimator.
An estimator with a budget (`budget_param`: trees, boosting rounds, epochs) is always trained at exactly the
budget best_params reports; where growing it with warm_start equals one fit (`budget_resumable`) a trial grows it
in rungs and can be pruned part-way for free.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from greenpipe.components.contracts.estimators import FAMILY_ALIASES, estimator
from greenpipe.errors import GreenpipeError


@dataclass(frozen=True)
class EstimatorFamily:
    name: str
    import_path: str  # module:Class
    classifier: bool
    default_space: dict[str, Any]
    fixed: dict[str, Any] = field(default_factory=dict)  # set on every trial (seed, budget off switches)
    budget_param: str | None = None  # the param a trial's budget is counted in (n_estimators, max_iter)
    budget_max: int = 0
    # True when growing budget_param with warm_start=True gives the same model as one fit at the final budget
    # (trees and boosting rounds); False for MLP epochs (each warm-started fit restarts Adam and the shuffle)
    budget_resumable: bool = False
    seed_param: str | None = "random_state"

    def trained_params(self, params: dict[str, Any], seed: int, budget: int | None = None) -> dict[str, Any]:
        """The constructor arguments a trial trains with: fixed settings, tuned params, seed and full budget.

        This is what best_params reports, so a model built from it is the model the trial scored."""
        kwargs = {**self.fixed, **params}
        if self.seed_param:
            kwargs[self.seed_param] = seed
        if self.budget_param:
            kwargs[self.budget_param] = self.budget_max if budget is None else budget
        return kwargs

    def make(self, params: dict[str, Any], seed: int, budget: int | None = None, grow: bool = False) -> Any:
        """A fresh estimator with the tuned params at `budget` (None: the full budget); `grow` sets warm_start
        so a later fit at a bigger budget continues this one (only where budget_resumable)."""
        import importlib

        module, cls = self.import_path.split(":")
        kwargs = self.trained_params(params, seed, budget)
        if grow:
            kwargs["warm_start"] = True
        return getattr(importlib.import_module(module), cls)(**kwargs)


def _float(low: float, high: float, scaling: str = "Logarithmic") -> dict[str, Any]:
    return {"type": "float", "low": low, "high": high, "scaling": scaling}


def _int(low: int, high: int, scaling: str = "Logarithmic") -> dict[str, Any]:
    return {"type": "int", "low": low, "high": high, "scaling": scaling}


ESTIMATORS: dict[str, EstimatorFamily] = {
    f.name: f
    for f in (
        EstimatorFamily(
            "logistic",
            estimator("logistic", "classification").import_path,
            True,
            {"C": _float(1e-4, 1e3)},
            fixed={"max_iter": 500},
        ),
        EstimatorFamily(
            "sgd",
            estimator("sgd", "classification").import_path,
            True,
            {"alpha": _float(1e-7, 1e-1), "l1_ratio": _float(0.0, 1.0, "Linear")},
            fixed={"penalty": "elasticnet"},
        ),
        EstimatorFamily(
            "svc",
            estimator("svc", "classification").import_path,
            True,
            {"C": _float(1e-2, 1e3), "gamma": _float(1e-5, 1e0)},
        ),
        EstimatorFamily(
            "random_forest",
            estimator("random_forest", "classification").import_path,
            True,
            {"max_depth": _int(2, 32), "min_samples_leaf": _int(1, 32), "max_features": _float(0.1, 1.0, "Linear")},
            fixed={"n_jobs": 1},
            budget_param="n_estimators",
            budget_max=200,
            budget_resumable=True,
        ),
        EstimatorFamily(
            "hist_gradient_boosting",
            estimator("hist_gradient_boosting", "classification").import_path,
            True,
            {
                "learning_rate": _float(0.01, 0.5),
                "max_leaf_nodes": _int(4, 128),
                "min_samples_leaf": _int(2, 128),
                "l2_regularization": _float(1e-6, 10.0),
            },
            fixed={"early_stopping": False},
            budget_param="max_iter",
            budget_max=200,
            budget_resumable=True,
        ),
        EstimatorFamily(
            "mlp",
            estimator("mlp", "classification").import_path,
            True,
            {
                "hidden_layer_sizes": _int(16, 256),
                "alpha": _float(1e-6, 1e-1),
                "learning_rate_init": _float(1e-4, 1e-1),
            },
            budget_param="max_iter",
            budget_max=200,
        ),
    )
}


# small_sample's candidate names for the same families (the table's family is "linear", "logistic" its alias)
ALIASES = {canonical: alias for alias, canonical in FAMILY_ALIASES.items()}


def family(name: str) -> EstimatorFamily:
    name = ALIASES.get(name, name)
    if name not in ESTIMATORS:
        raise GreenpipeError(f"estimator={name!r} is not known to bayes_tune: use one of {', '.join(ESTIMATORS)}")
    return ESTIMATORS[name]

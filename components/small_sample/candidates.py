"""Candidate models for small_sample, ordered simple -> complex, and how a user adds their own."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from greenpipe.components.contracts.estimators import estimator
from greenpipe.errors import GreenpipeError

MODULE = "greenpipe.components.small_sample.candidates"
DEFAULT_ORDER = ("linear", "random_forest", "hist_gradient_boosting", "mlp")  # families of the estimator table


def linear_classifier(seed: int = 0) -> Any:
    """Logistic regression on median-imputed, standardised features."""
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    logistic = estimator("linear", "classification").make(max_iter=1000)
    return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), logistic)


def linear_regressor(seed: int = 0) -> Any:
    """Ridge regression (alpha=1) on median-imputed, standardised features."""
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    ridge = estimator("linear", "regression").make(alpha=1.0)
    return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), ridge)


def random_forest_classifier(seed: int = 0) -> Any:
    return estimator("random_forest", "classification").make(n_estimators=100, random_state=seed, n_jobs=1)


def random_forest_regressor(seed: int = 0) -> Any:
    return estimator("random_forest", "regression").make(n_estimators=100, random_state=seed, n_jobs=1)


def hist_gradient_boosting_classifier(seed: int = 0) -> Any:
    return estimator("hist_gradient_boosting", "classification").make(random_state=seed)


def hist_gradient_boosting_regressor(seed: int = 0) -> Any:
    return estimator("hist_gradient_boosting", "regression").make(random_state=seed)


def mlp_classifier(seed: int = 0) -> Any:
    """One hidden layer of 64 units, early stopping on a 10% validation split."""
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    mlp = estimator("mlp", "classification").make(
        hidden_layer_sizes=(64,), max_iter=200, early_stopping=True, random_state=seed
    )
    return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), mlp)


def mlp_regressor(seed: int = 0) -> Any:
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    mlp = estimator("mlp", "regression").make(
        hidden_layer_sizes=(64,), max_iter=200, early_stopping=True, random_state=seed
    )
    return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), mlp)


@dataclass(frozen=True)
class Candidate:
    """One model to try: a display name and the import path of a factory returning an unfitted estimator."""

    name: str
    factory: str  # "module:function"

    def build(self, seed: int) -> Any:
        fn = load_factory(self.factory)
        accepts_seed = "seed" in inspect.signature(fn).parameters
        return fn(seed=seed) if accepts_seed else fn()


def load_factory(ref: str) -> Callable[..., Any]:
    """Import `module:function`; a clear error when it cannot be found."""
    module_name, _, attr = ref.partition(":")
    if not module_name or not attr:
        raise GreenpipeError(
            f"candidates entry {ref!r} is neither a built-in name ({', '.join(DEFAULT_ORDER)}) "
            "nor an import path 'module:factory'"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise GreenpipeError(
            f"candidates entry {ref!r}: cannot import module {module_name!r} ({exc}); install it or fix the path"
        ) from exc
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise GreenpipeError(f"candidates entry {ref!r}: {module_name} has no callable {attr!r}")
    return fn


def resolve_candidates(entries: list[str], task: str) -> list[Candidate]:
    """Built-in names (linear, random_forest, hist_gradient_boosting, mlp) or 'module:factory', in order."""
    suffix = "classifier" if task == "classification" else "regressor"
    names = list(entries) or list(DEFAULT_ORDER)
    out: list[Candidate] = []
    for entry in names:
        if not isinstance(entry, str) or not entry:
            raise GreenpipeError(f"candidates entry {entry!r} must be a non-empty string")
        if entry in DEFAULT_ORDER:
            candidate = Candidate(entry, f"{MODULE}:{entry}_{suffix}")
        else:
            load_factory(entry)  # fail before any training if the path is wrong
            candidate = Candidate(entry.rpartition(":")[2], entry)
        if any(c.name == candidate.name for c in out):
            raise GreenpipeError(f"candidates lists {candidate.name!r} twice; give each candidate once")
        out.append(candidate)
    return out

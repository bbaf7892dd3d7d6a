"""What one trial measures: an estimator fitted in rungs of growing fidelity and scored on a held-out split.

Fidelity is either growing iterations (trees, boosting rounds, epochs: each rung continues the previous one where
that gives the same model as one fit, and fits afresh at the rung's budget where it does not, as for MLP epochs) or
growing data samples (each rung fits afresh on a bigger stratified sample, starting at small_sample's fraction).
Every trial's last rung is exactly the estimator best_params describes: full data, full budget, the same seed.
Rungs grow by RUNG_FACTOR, as successive halving expects. A rung's cost is counted in trial-equivalents: the share
of one full-fidelity trial it spends (a data rung at 1/3 of the rows costs 1/3 even though the rungs before it
were also paid for).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from greenpipe.components.bayes_tune.estimators import EstimatorFamily
from greenpipe.components.contracts.metrics import Metric
from greenpipe.components.contracts.metrics import metric as registered_metric
from greenpipe.errors import GreenpipeError

RUNG_FACTOR = 3
FIDELITIES = ("none", "iterations", "sample")


# bayes_tune tunes classifiers: these are the registry's metrics it offers
TUNABLE = ("accuracy", "balanced_accuracy", "f1", "roc_auc", "log_loss")


def metric(name: str) -> Metric:
    return registered_metric(name, allowed=TUNABLE, computed_by="bayes_tune")


def resolve_direction(metric_name: str, direction: str) -> str:
    """`auto` becomes the metric's own direction; a direction against the metric is refused."""
    natural = metric(metric_name).direction
    if direction == "auto":
        return natural
    if direction not in ("maximize", "minimize"):
        raise GreenpipeError(f"direction={direction!r} must be 'maximize', 'minimize' or 'auto'")
    if direction != natural:
        raise GreenpipeError(
            f"direction={direction!r} would make {metric_name} worse as it is tuned: {metric_name} "
            f"improves when it goes {'up' if natural == 'maximize' else 'down'}; use "
            f"direction={natural!r} or 'auto'"
        )
    return direction


def score(metric_name: str, estimator: Any, X: Any, y: Any) -> float:
    """The metric of a fitted estimator on (X, y)."""
    return metric(metric_name).score(estimator, X, y)


def rung_levels(fidelity: str, min_fraction: float) -> list[float]:
    """Fidelity levels as shares of the full budget: [min, min*3, min*9, ...] ending at exactly 1."""
    if fidelity == "none" or min_fraction >= 1:
        return [1.0]
    if not 0 < min_fraction < 1:
        raise GreenpipeError(f"min_fraction={min_fraction!r} must be in (0, 1]")
    levels = []
    level = min_fraction
    while level < 1 - 1e-9:
        levels.append(level)
        level *= RUNG_FACTOR
    if levels[-1] > 0.5:  # a last rung above half the budget is as good as the full one: make it the full one
        levels[-1] = 1.0
    else:
        levels.append(1.0)
    return levels


@dataclass
class Holdout:
    """A fixed train/validation split (stratified, seeded) so the same params always score the same."""

    X_train: Any
    y_train: Any
    X_val: Any
    y_val: Any

    @classmethod
    def split(cls, X: Any, y: Any, validation_share: float = 0.25, seed: int = 0) -> Holdout:
        from sklearn.model_selection import train_test_split

        X_tr, X_va, y_tr, y_va = train_test_split(X, y, test_size=validation_share, random_state=seed, stratify=y)
        return cls(X_tr, y_tr, X_va, y_va)


class TrialRunner:
    """Runs one trial's rungs: yields (level, cost in trial-equivalents, value) after each rung."""

    def __init__(
        self,
        estimator: EstimatorFamily,
        holdout: Holdout,
        metric_name: str,
        fidelity: str,
        min_fraction: float = 1 / 9,
        seed: int = 0,
    ):
        if fidelity not in FIDELITIES:
            raise GreenpipeError(f"fidelity={fidelity!r} must be one of {', '.join(FIDELITIES)}")
        if fidelity == "iterations" and not estimator.budget_param:
            raise GreenpipeError(
                f"fidelity='iterations' needs an estimator that can continue training; "
                f"{estimator.name} cannot: use fidelity='sample' or 'none'"
            )
        if estimator.name == "svc" and (
            metric_name == "log_loss" or (metric_name == "roc_auc" and len(set(holdout.y_train.tolist())) > 2)
        ):
            raise GreenpipeError(
                f"metric={metric_name!r} needs class probabilities here; svc gives none without "
                "Platt scaling: use accuracy, balanced_accuracy or f1, or another estimator"
            )
        self.estimator = estimator
        self.holdout = holdout
        self.metric = metric_name
        self.fidelity = fidelity
        self.levels = rung_levels(fidelity, min_fraction)
        self.seed = seed
        self._samples: dict[float, tuple[Any, Any]] = {}
        self.fitted: Any = None  # the estimator of the last rung run (what a SageMaker trial saves)

    @property
    def full_cost(self) -> float:
        """Trial-equivalents a trial spends when it runs every rung."""
        return sum(self.costs())

    @property
    def resumes(self) -> bool:
        """True when each rung continues the previous one's model (iteration rungs of a resumable budget)."""
        return self.fidelity == "iterations" and self.estimator.budget_resumable

    def costs(self) -> list[float]:
        if self.resumes:
            return [b - a for a, b in zip([0.0, *self.levels[:-1]], self.levels, strict=True)]
        return list(self.levels)  # each rung fits afresh (a data sample, or a smaller budget from scratch)

    def run(self, params: dict[str, Any]) -> Iterator[tuple[float, float, float]]:
        costs = self.costs()
        est = None
        for level, cost in zip(self.levels, costs, strict=True):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # convergence warnings of short rungs are expected
                if self.resumes:
                    est = self._grow(est, params, level)
                elif self.fidelity == "iterations":
                    budget = self._budget(level)
                    est = self.estimator.make(params, self.seed, budget).fit(self.holdout.X_train, self.holdout.y_train)
                else:
                    X, y = self._sample(level)
                    est = self.estimator.make(params, self.seed).fit(X, y)
                value = score(self.metric, est, self.holdout.X_val, self.holdout.y_val)
            self.fitted = est
            yield level, cost, value

    def _budget(self, level: float) -> int:
        return max(1, round(self.estimator.budget_max * level))

    def _grow(self, est: Any, params: dict[str, Any], level: float) -> Any:
        """Continue `est` to this rung's budget; the last rung reaches exactly budget_max, as best_params says."""
        fam = self.estimator
        target = self._budget(level)
        if est is None:
            est = fam.make(params, self.seed, budget=target, grow=True)
        elif fam.budget_param is None:  # only an estimator with a budget has rungs to grow through
            raise ValueError(f"estimator {fam.name} has no budget parameter to grow")
        else:
            est.set_params(**{fam.budget_param: target})
        est.fit(self.holdout.X_train, self.holdout.y_train)
        if level >= 1:
            est.set_params(warm_start=False)  # the saved model is exactly best_params' estimator
        return est

    def _sample(self, level: float) -> tuple[Any, Any]:
        if level >= 1:
            return self.holdout.X_train, self.holdout.y_train
        if level not in self._samples:
            from sklearn.model_selection import train_test_split

            X_s, _, y_s, _ = train_test_split(
                self.holdout.X_train,
                self.holdout.y_train,
                train_size=level,
                random_state=self.seed,
                stratify=self.holdout.y_train,
            )
            self._samples[level] = (X_s, y_s)
        return self._samples[level]

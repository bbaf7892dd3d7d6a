"""bayes_tune: Bayesian hyperparameter search with pruning, warm start and small-sample fidelity, energy per trial."""

from greenpipe.components.bayes_tune.sagemaker_request import SAGEMAKER_TUNING
from greenpipe.components.bayes_tune.step import BayesTuneResult, bayes_tune

STEPS = [bayes_tune]

__all__ = ["SAGEMAKER_TUNING", "STEPS", "BayesTuneResult", "bayes_tune"]

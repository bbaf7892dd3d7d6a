"""bayes_tune: Bayesian hyperparameter search with pruning, warm start and small-sample fidelity, energy per trial."""

from greenpipe.components.bayes_tune.sagemaker_request import SAGEMAKER_TUNING
from greenpipe.components.bayes_tune.step import TuneResult, bayes_tune

STEPS = [bayes_tune]

__all__ = ["SAGEMAKER_TUNING", "STEPS", "TuneResult", "bayes_tune"]

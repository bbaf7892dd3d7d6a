"""A tuning step declares its TuningHook by name; a wrong declaration is one clear error, found before compiling."""

import pytest

from greenpipe import Dataset, step
from greenpipe.errors import SpecError

NOT_A_HOOK = {"trial_step": None}


def test_bayes_tune_declares_its_hook_and_it_is_one():
    from greenpipe.components.bayes_tune import SAGEMAKER_TUNING, bayes_tune
    from greenpipe.tuning_hook import TuningHook

    assert bayes_tune.tuning_hook() is SAGEMAKER_TUNING and isinstance(SAGEMAKER_TUNING, TuningHook)
    assert SAGEMAKER_TUNING.trial_step.spec.runtime == "training"


def test_a_hook_on_a_step_that_does_not_tune_is_refused():
    with pytest.raises(SpecError, match="tuning='tests:HOOK' is for a runtime='tuning' step"):

        @step(tuning="tests:HOOK")
        def fit(data: Dataset) -> None:
            """Fit."""


def test_an_object_that_is_not_a_hook_is_named():
    @step(runtime="tuning", tuning=f"{__name__}:NOT_A_HOOK")
    def tune(data: Dataset) -> None:
        """Tune."""

    with pytest.raises(SpecError, match="is a dict, not a TuningHook: it needs trial_step, compile_params"):
        tune.tuning_hook()

    @step(runtime="tuning")
    def own_params(data: Dataset) -> None:
        """Tune its own params."""

    assert own_params.tuning_hook() is None

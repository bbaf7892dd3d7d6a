"""How a runtime="tuning" step whose search ranges over something other than its own params (an estimator's
hyperparameters) tells a backend what one tuning job is. The step declares it by name (`@step(tuning=...)`); the
SageMaker backend builds CreateHyperParameterTuningJob from it. See greenpipe/backends/sagemaker_tuning.py."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from greenpipe.step import Step


@runtime_checkable
class TuningHook(Protocol):
    """What a tuning step provides for a remote tuning job.

    - `trial_step`: a runtime="training" step that evaluates ONE configuration; its inputs are named like the
      tuning step's, it writes every output the tuning step declares, and it takes `tuned_hyperparameters: dict`.
    - `compile_params`: the tuning step's params the job is built from; they must be constants.
    - `reference_params`: params that may come from pipeline parameters (reach `tuning_job` as {"Get": ...}).
    - `tuning_job(params)`: {"HyperParameterTuningJobConfig": ..., "WarmStartConfig"?: ...}; raises a
      GreenpipeError when the params cannot be known before the step runs.
    """

    @property
    def trial_step(self) -> Step: ...

    compile_params: tuple[str, ...]
    reference_params: tuple[str, ...]

    def tuning_job(self, params: dict[str, Any]) -> dict[str, Any]: ...

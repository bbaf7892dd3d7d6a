"""The Arguments of a SageMaker Tuning step (CreateHyperParameterTuningJob) for a runtime="tuning" step.

Every tuning job is Bayesian, runs one training job at a time unless the step says otherwise, stops trials early
("Auto") and is deterministic (no job names: the pipeline names each job when it runs). Its training jobs start
the image's `train` script, which runs `python -m greenpipe.run "$GREENPIPE_STEP" --sagemaker=training`. A step
maps to a tuning job in one of two ways:

1. Its search space ranges over its OWN params: the step declares `search_space: dict`
   ({param: {"low", "high", "log"?} | [choices...]}), `objective: str` (a metric its Metrics output logs),
   optionally `direction` and `n_trials`/`max_trials`. Each training job runs the step once at one point.

2. Its search space ranges over something else (an estimator's hyperparameters): the step declares a
   TuningHook (greenpipe.tuning_hook) by name, `@step(runtime="tuning", tuning="pkg.mod:HOOK")`, an object with
   - `trial_step`: a runtime="training" step that evaluates ONE configuration. Its inputs are named like the
     tuning step's, and it writes every output the tuning step declares (downstream steps read them from the
     best training job's model.tar.gz). Its params named like the tuning step's are passed as
     StaticHyperParameters; it declares `tuned_hyperparameters: dict`, into which greenpipe.run gathers the
     tuned values (SageMaker's HyperParameters strings). It logs the objective metric to its Metrics output
     (greenpipe.run prints `greenpipe-metric <name>=<value>`, which MetricDefinitions read) and may print such
     lines itself after intermediate epochs for early stopping.
   - `compile_params`: names of the tuning step's params the job is built from; they must be constants.
   - `reference_params` (optional): names of params that may come from pipeline parameters (e.g. a trial
     count); such a value reaches `tuning_job` as {"Get": "Parameters.<name>"}, to be placed as it is.
   - `tuning_job(params) -> {"HyperParameterTuningJobConfig": ..., "WarmStartConfig"?: ...}` from those params,
     raising a GreenpipeError when they cannot be known before the step runs.
   components/bayes_tune implements it.
"""

from __future__ import annotations

from typing import Any

from greenpipe.backends.sagemaker_jobs import (
    InputSource,
    SageMakerOptions,
    _training_common,
    hyperparameters,
    metric_definitions,
    metric_definitions_for,
    param_text,
    param_value,
    task_param,
)
from greenpipe.container import TUNED_PARAM
from greenpipe.errors import CompileError, GreenpipeError, KnownOnlyAtRunTime
from greenpipe.pipeline import PipelineParam, Task
from greenpipe.step import Step
from greenpipe.tuning_hook import TuningHook


def tuning_arguments(task: Task, sources: dict[str, InputSource], options: SageMakerOptions) -> dict[str, Any]:
    """HyperParameterTuningJobConfig, TrainingJobDefinition and (when warm-started) WarmStartConfig."""
    contract = tuning_contract(task.step)
    if contract is not None:
        return _contract_arguments(task, contract, sources, options)
    return _own_params_arguments(task, sources, options)


def tuning_contract(step: Step) -> TuningHook | None:
    """The TuningHook the step declares (`@step(tuning=...)`), else None."""
    return step.tuning_hook()


def _contract_arguments(
    task: Task, contract: TuningHook, sources: dict[str, InputSource], options: SageMakerOptions
) -> dict[str, Any]:
    trial: Step = contract.trial_step
    _check_trial(task, trial)
    given = {name: _constant_param(task, name) for name in contract.compile_params}
    for name in contract.reference_params:
        value = task_param(task, name)
        given[name] = {"Get": f"Parameters.{value.name}"} if isinstance(value, PipelineParam) else value
    try:
        job = contract.tuning_job(given)
    except KnownOnlyAtRunTime as exc:
        raise KnownOnlyAtRunTime(f"step {task.name}: {exc}") from None
    except GreenpipeError as exc:
        raise CompileError(f"step {task.name}: {exc}") from None
    config = job["HyperParameterTuningJobConfig"]
    if config.get("Strategy") != "Bayesian" or config.get("TrainingJobEarlyStoppingType") != "Auto":
        raise CompileError(
            f"step {task.name}: its tuning hook's tuning_job gave Strategy={config.get('Strategy')!r}, "
            f"TrainingJobEarlyStoppingType={config.get('TrainingJobEarlyStoppingType')!r}; greenpipe tuning "
            "jobs are Bayesian with early stopping Auto"
        )
    common = _training_common(task, sources, options)
    trial_fingerprint = trial.fingerprint().digest
    # The training jobs run the trial step: `train` reads it from GREENPIPE_STEP, the ledger records its fingerprint.
    common["Environment"].update({"GREENPIPE_STEP": trial.spec.ref, "GREENPIPE_FINGERPRINT": trial_fingerprint})
    static = {
        p.name: param_value(task_param(task, p.name))
        for p in trial.spec.params
        if p.name != TUNED_PARAM and _declares(task.step, p.name)
    }
    static["greenpipe_fingerprint"] = task.step.fingerprint().digest
    static["greenpipe_trial_fingerprint"] = trial_fingerprint
    definition = {
        "AlgorithmSpecification": {
            "TrainingImage": options.image,
            "TrainingInputMode": "File",
            "MetricDefinitions": metric_definitions_for([config["HyperParameterTuningJobObjective"]["MetricName"]]),
        },
        "StaticHyperParameters": dict(sorted(static.items())),
        **common,
    }
    out = {"HyperParameterTuningJobConfig": config, "TrainingJobDefinition": definition}
    if job.get("WarmStartConfig"):
        out["WarmStartConfig"] = job["WarmStartConfig"]
    return out


def _check_trial(task: Task, trial: Step) -> None:
    """The trial step must take the tuning step's inputs and write its outputs, or the definition would lie."""
    spec = trial.spec
    if spec.runtime != "training" or not any(p.name == TUNED_PARAM for p in spec.params):
        raise CompileError(
            f"step {task.name}: its tuning hook's trial_step {spec.ref} must be runtime='training' and declare "
            f"`{TUNED_PARAM}: dict` (where the tuning job's values arrive)"
        )
    inputs = {i.name for i in spec.inputs}
    missing_in = sorted(set(task.inputs) - inputs)
    missing_out = sorted({o.name for o in task.step.spec.outputs} - {o.name for o in spec.outputs})
    if missing_in or missing_out:
        raise CompileError(
            f"step {task.name}: its tuning hook's trial_step {spec.ref} lacks inputs {missing_in} or outputs "
            f"{missing_out}; each training job must read the same channels and write what downstream steps read"
        )


def _declares(step: Step, name: str) -> bool:
    return any(p.name == name for p in step.spec.params)


def _constant_param(task: Task, name: str) -> Any:
    value = task_param(task, name)
    if isinstance(value, PipelineParam):
        raise CompileError(
            f"step {task.name}: param {name} comes from pipeline parameter {value.name}; a SageMaker "
            "tuning job is built from it when the pipeline is compiled, so pass it as a constant"
        )
    return value


def _own_params_arguments(task: Task, sources: dict[str, InputSource], options: SageMakerOptions) -> dict[str, Any]:
    """A tuning job whose training jobs each run the step once at one point of its own params' search space."""
    spec = task.step.spec
    space = _constant(task, "search_space", dict)
    objective = _constant(task, "objective", str)
    direction = _constant(task, "direction", str, "maximize")
    trials = task_param(task, "n_trials", task_param(task, "max_trials", 10))
    if isinstance(trials, PipelineParam) or not isinstance(trials, int):
        raise CompileError(
            f"step {task.name}: n_trials/max_trials must be a constant int for a SageMaker tuning "
            "job (its ResourceLimits are part of the definition)"
        )
    if direction not in ("maximize", "minimize"):
        raise CompileError(f"step {task.name}: direction={direction!r} must be 'maximize' or 'minimize'")
    ranges: dict[str, list[Any]] = {
        "IntegerParameterRanges": [],
        "ContinuousParameterRanges": [],
        "CategoricalParameterRanges": [],
    }
    params = {p.name: p for p in spec.params}
    for name, bounds in sorted(space.items()):
        if name not in params or params[name].type not in (int, float, str, bool):
            raise CompileError(
                f"step {task.name}: search_space key {name!r} is not an int/float/str param of the "
                f"step; a SageMaker tuning job varies the step's own params (or the step declares a "
                "tuning hook: @step(tuning=...), see greenpipe.tuning_hook)"
            )
        ptype = params[name].type
        if isinstance(bounds, list):
            ranges["CategoricalParameterRanges"].append({"Name": name, "Values": [param_text(v) for v in bounds]})
        elif isinstance(bounds, dict) and "low" in bounds and "high" in bounds and ptype in (int, float):
            key = "IntegerParameterRanges" if ptype is int else "ContinuousParameterRanges"
            ranges[key].append(
                {
                    "Name": name,
                    "MinValue": param_text(ptype(bounds["low"])),
                    "MaxValue": param_text(ptype(bounds["high"])),
                    "ScalingType": "Logarithmic" if bounds.get("log") else "Auto",
                }
            )
        else:
            raise CompileError(
                f"step {task.name}: search_space[{name!r}]={bounds!r} is not a range SageMaker "
                "can tune: use {'low': x, 'high': y, 'log': bool} for numbers or a list of choices"
            )
    common = _training_common(task, sources, options)
    definition = {
        "AlgorithmSpecification": {
            "TrainingImage": options.image,
            "TrainingInputMode": "File",
            "MetricDefinitions": metric_definitions(task),
        },
        "StaticHyperParameters": hyperparameters(task, skip=set(space)),
        **common,
    }
    config = {
        "Strategy": "Bayesian",
        "HyperParameterTuningJobObjective": {"Type": direction.capitalize(), "MetricName": objective},
        "ResourceLimits": {"MaxNumberOfTrainingJobs": trials, "MaxParallelTrainingJobs": 1},
        "ParameterRanges": {k: v for k, v in ranges.items() if v},
        "TrainingJobEarlyStoppingType": "Auto",
    }
    return {"HyperParameterTuningJobConfig": config, "TrainingJobDefinition": definition}


def _constant(task: Task, name: str, tp: type, default: Any = None) -> Any:
    value = task_param(task, name, default)
    if value is None:
        raise CompileError(
            f"step {task.name}: runtime='tuning' on SageMaker needs a `{name}: {tp.__name__}` param "
            f"(the tuning job's definition is built from it), or it declares a tuning hook "
            "(@step(tuning=...), see greenpipe.tuning_hook)"
        )
    if isinstance(value, PipelineParam):
        raise CompileError(
            f"step {task.name}: param {name} comes from pipeline parameter {value.name}; a SageMaker "
            "tuning job needs it as a constant in the definition"
        )
    return value

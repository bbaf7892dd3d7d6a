"""The CreateHyperParameterTuningJob request bayes_tune maps to on SageMaker, and its validation.

Built without the sagemaker SDK (whose default job names carry a timestamp): the name is a prefix plus a digest of
the request, so the same tuning job always compiles to the same bytes. `validate_request` runs botocore's own
validator on the bundled service model, then the checks botocore leaves out: exact enum spellings (botocore takes
Strategy "bayesian"), string patterns and maximum lengths.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

from greenpipe.components.bayes_tune.search_space import SearchSpace
from greenpipe.errors import GreenpipeError, KnownOnlyAtRunTime

OPERATION = "CreateHyperParameterTuningJob"
NAME_MAX = 32  # HyperParameterTuningJobName: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}


class RequestError(GreenpipeError):
    """A SageMaker request does not fit the service model."""


def tuning_job_request(
    *,
    job_prefix: str,
    space: SearchSpace,
    metric: str,
    direction: str,
    max_trials: int,
    image_uri: str,
    role_arn: str,
    train_s3_uri: str,
    output_s3_uri: str,
    max_parallel: int = 1,
    early_stopping: bool = True,
    warm_start_from: Sequence[str] = (),
    warm_start_type: str = "IdenticalDataAndAlgorithm",
    static_hyperparameters: dict[str, Any] | None = None,
    instance_type: str = "ml.m5.large",
    max_runtime_s: int = 3600,
    spot: bool = False,
) -> dict[str, Any]:
    """A Bayesian tuning job: one training job at a time by default, early stopping Auto, optional warm start.

    The training container prints `<metric>=<value>` lines; the MetricDefinitions regex reads them.
    """
    stopping: dict[str, int] = {"MaxRuntimeInSeconds": int(max_runtime_s)}
    if spot:
        stopping["MaxWaitTimeInSeconds"] = 2 * int(max_runtime_s)
    definition: dict[str, Any] = {
        "StaticHyperParameters": {
            k: v if isinstance(v, str) else json.dumps(v) for k, v in sorted((static_hyperparameters or {}).items())
        },
        "AlgorithmSpecification": {
            "TrainingImage": image_uri,
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": metric, "Regex": f"{re.escape(metric)}=([-+0-9.eE]+)"}],
        },
        "RoleArn": role_arn,
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": train_s3_uri,
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": output_s3_uri},
        "ResourceConfig": {"InstanceType": instance_type, "InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": stopping,
        "EnableManagedSpotTraining": bool(spot),
    }
    body: dict[str, Any] = {
        "HyperParameterTuningJobConfig": tuning_config(
            space, metric, direction, max_trials, max_parallel, early_stopping
        ),
        "TrainingJobDefinition": definition,
    }
    if warm_start_from:
        body["WarmStartConfig"] = warm_start_config(warm_start_from, warm_start_type)
    return {"HyperParameterTuningJobName": tuning_job_name(job_prefix, body), **body}


def tuning_config(
    space: SearchSpace,
    metric: str,
    direction: str,
    max_trials: int | dict,
    max_parallel: int | dict = 1,
    early_stopping: bool = True,
) -> dict[str, Any]:
    """HyperParameterTuningJobConfig: Bayesian, the space's ranges with their ScalingType, early stopping Auto.

    A limit may be a pipeline-parameter reference ({"Get": "Parameters.max_trials"}); it is kept as it is.
    """
    if direction not in ("maximize", "minimize"):
        raise RequestError(f"direction={direction!r} must be 'maximize' or 'minimize'")
    return {
        "Strategy": "Bayesian",
        "HyperParameterTuningJobObjective": {"Type": direction.capitalize(), "MetricName": metric},
        "ResourceLimits": {
            "MaxNumberOfTrainingJobs": _limit(max_trials),
            "MaxParallelTrainingJobs": _limit(max_parallel),
        },
        "ParameterRanges": space.sagemaker_ranges(),
        "TrainingJobEarlyStoppingType": "Auto" if early_stopping else "Off",
    }


def _limit(value: int | dict) -> int | dict:
    return value if isinstance(value, dict) else int(value)


def warm_start_config(parents: Sequence[str], warm_start_type: str) -> dict[str, Any]:
    """WarmStartConfig naming the parent tuning jobs (SageMaker takes at most 5)."""
    return {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": n} for n in parents],
        "WarmStartType": warm_start_type,
    }


class SageMakerTuning:
    """How bayes_tune compiles to a SageMaker tuning job: the contract greenpipe.backends.sagemaker_tuning reads.

    bayes_tune's search space ranges over the estimator's hyperparameters, not over the step's own params, so
    the backend cannot derive the job from the step's signature. This object tells it:
    - `trial_step`: the runtime="training" step each of the tuning job's training jobs runs once, for one
      configuration (components/bayes_tune/trial.py);
    - `compile_params`: the params the tuning job is built from (they must be constants in the pipeline), and
      `reference_params`, which may come from pipeline parameters (passed as {"Get": ...} references);
    - `tuning_job(params)`: HyperParameterTuningJobConfig, and WarmStartConfig when warm_start_from names a
      parent tuning job, built by the same functions as `tuning_job_request`.
    """

    compile_params = ("estimator", "search_space", "metric", "warm_start_from", "warm_start_type")
    reference_params = ("max_trials", "max_parallel")  # a pipeline parameter reference stands in ResourceLimits

    @property
    def trial_step(self) -> Any:
        from greenpipe.components.bayes_tune.trial import bayes_tune_trial

        return bayes_tune_trial

    def tuning_job(self, params: dict[str, Any]) -> dict[str, Any]:
        """The tuning job's config from bayes_tune's params (missing ones take bayes_tune's defaults)."""
        from greenpipe.components.bayes_tune.estimators import family
        from greenpipe.components.bayes_tune.objective import resolve_direction
        from greenpipe.components.bayes_tune.step import _check_names
        from greenpipe.components.bayes_tune.tuning import TuneSettings

        given = {**_defaults(), **params}
        estimator, search_space = given["estimator"], given["search_space"]
        if not estimator and not search_space:
            raise KnownOnlyAtRunTime(
                "estimator='' with no search_space takes the estimator, and so the search space, from "
                "small_sample's choice when the step runs; pass estimator=NAME: SageMaker tuning ranges are "
                "fixed when the pipeline is compiled"
            )
        space = SearchSpace.from_dict(search_space or family(estimator).default_space)
        if estimator:  # else the estimator comes from the choice at run time; the trial checks the names then
            _check_names(family(estimator), space)
        direction = resolve_direction(given["metric"], "auto")
        limits = {k: given[k] for k in ("max_trials", "max_parallel") if not isinstance(given[k], dict)}
        TuneSettings(space, direction, **{"max_trials": 1, "max_parallel": 1, **limits})  # checks constant limits
        out: dict[str, Any] = {
            "HyperParameterTuningJobConfig": tuning_config(
                space, given["metric"], direction, given["max_trials"], given["max_parallel"]
            )
        }
        if given["warm_start_from"]:
            out["WarmStartConfig"] = warm_start_config(
                [given["warm_start_from"]], _warm_start_type(given["warm_start_type"])
            )
        return out


def _defaults() -> dict[str, Any]:
    from greenpipe.components.bayes_tune.step import bayes_tune

    return {p.name: p.default for p in bayes_tune.spec.params if not p.required}


def _warm_start_type(kind: str) -> str:
    # "auto" decides locally by comparing data and settings with the parent study, which a compiled pipeline
    # cannot do; TransferLearning is the type SageMaker accepts whether or not they match.
    if kind == "auto":
        return "TransferLearning"
    if kind not in ("IdenticalDataAndAlgorithm", "TransferLearning"):
        raise RequestError(
            f"warm_start_type={kind!r} must be 'auto', 'IdenticalDataAndAlgorithm' or 'TransferLearning'"
        )
    return kind


SAGEMAKER_TUNING = SageMakerTuning()


def tuning_job_name(prefix: str, body: dict[str, Any]) -> str:
    """`<prefix>-<8 hex of the request>`, at most 32 characters; the same request always gets the same name."""
    clean = re.sub(r"[^a-zA-Z0-9-]+", "-", prefix).strip("-")[: NAME_MAX - 9].strip("-")
    if not clean:
        raise RequestError(f"job_prefix={prefix!r} has no letters or digits; give e.g. 'rain-tune'")
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:8]
    return f"{clean}-{digest}"


def validate_request(params: dict[str, Any], operation: str = OPERATION) -> None:
    """Raise RequestError listing every problem botocore finds, then every enum, pattern or length it skips."""
    from greenpipe.aws_requests import request_problems

    problems = request_problems(operation, params)
    if problems:
        raise RequestError(f"{operation} request has values SageMaker would refuse:\n" + "\n".join(problems))

"""spot_train as a SageMaker CreateTrainingJob request: managed spot, checkpoints to S3, rules in the container.

The stop-rules run inside the training container (passed as the `rules` hyperparameter), because SageMaker
Debugger is closed to new customers. Accounts that still have Debugger can add DebugRuleConfigurations; their
StalledTrainingRule gets an explicit training_job_name_prefix, since the SDK's default bakes a timestamp into it
and every recompile would then differ. Everything here is deterministic: the job name is the prefix plus a digest
of the request, so the same inputs give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from greenpipe.components.spot_train.rules import RULES, parse_rules
from greenpipe.errors import GreenpipeError

CHECKPOINT_LOCAL_PATH = "/opt/ml/checkpoints"
DEBUGGER_RULES = (
    "LossNotDecreasing",
    "Overfit",
    "Overtraining",
    "StalledTrainingRule",
    "ExplodingTensor",
    "VanishingGradient",
)


def training_job_request(
    *,
    job_name_prefix: str,
    image_uri: str,
    role_arn: str,
    train_s3: str,
    output_s3: str,
    checkpoint_s3: str,
    target: str,
    estimator: str = "SGDClassifier",
    estimator_params: dict[str, Any] | None = None,
    validation_s3: str | None = None,
    max_epochs: int = 50,
    checkpoint_every: int = 1,
    rules: list | dict | None = None,
    seed: int = 0,
    instance_type: str = "ml.m5.large",
    instance_count: int = 1,
    volume_gb: int = 30,
    max_runtime_s: int = 86400,
    max_wait_s: int | None = None,
    code_fingerprint: str = "",
    debugger_rule_image: str | None = None,
) -> dict[str, Any]:
    """A CreateTrainingJob request for one spot_train run.

    Args:
        max_wait_s: how long SageMaker may wait for spot capacity plus train; defaults to 2 x max_runtime_s and
            must be >= max_runtime_s.
        code_fingerprint: the step's code fingerprint, carried as an environment variable so SageMaker's own
            caching invalidates when the code changes.
        debugger_rule_image: the region's Debugger rule evaluator image; given, the Debugger-named rules are also
            sent as DebugRuleConfigurations (for accounts that still have Debugger).
    """
    parsed = parse_rules(rules)  # a bad rule is an error here, before anything is submitted
    max_wait_s = 2 * max_runtime_s if max_wait_s is None else max_wait_s
    if max_runtime_s <= 0:
        raise GreenpipeError(f"spot_train: max_runtime_s={max_runtime_s!r} must be > 0")
    if max_wait_s < max_runtime_s:
        raise GreenpipeError(
            f"spot_train: max_wait_s={max_wait_s!r} must be >= max_runtime_s={max_runtime_s!r} "
            "(SageMaker rejects a spot job that may not wait as long as it runs)"
        )
    rules_config = [{"name": r.name, **r.params()} for r in parsed]
    hyperparameters = {
        "target": target,
        "estimator": estimator,
        "estimator_params": json.dumps(estimator_params or {}, sort_keys=True),
        "max_epochs": str(max_epochs),
        "checkpoint_every": str(checkpoint_every),
        "seed": str(seed),
        "rules": json.dumps(rules_config, sort_keys=True),
    }
    for key, value in hyperparameters.items():
        if len(value) > 2500:
            raise GreenpipeError(
                f"spot_train: hyperparameter {key} is {len(value)} characters; SageMaker allows "
                "2500: shorten it or pass it as a hyperparameters Artifact"
            )
    channels = [_channel("train", train_s3)] + ([_channel("validation", validation_s3)] if validation_s3 else [])
    request: dict[str, Any] = {
        "AlgorithmSpecification": {
            "TrainingImage": image_uri,
            "TrainingInputMode": "File",
            "ContainerEntrypoint": ["python", "-m", "greenpipe.run", "spot_train"],
        },
        "RoleArn": role_arn,
        "InputDataConfig": channels,
        "OutputDataConfig": {"S3OutputPath": output_s3},
        "ResourceConfig": {"InstanceType": instance_type, "InstanceCount": instance_count, "VolumeSizeInGB": volume_gb},
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime_s, "MaxWaitTimeInSeconds": max_wait_s},
        "EnableManagedSpotTraining": True,
        "CheckpointConfig": {"S3Uri": checkpoint_s3, "LocalPath": CHECKPOINT_LOCAL_PATH},
        "HyperParameters": hyperparameters,
        "Environment": {
            "GREENPIPE_CHECKPOINT_DIR": CHECKPOINT_LOCAL_PATH,
            "GREENPIPE_CODE_FINGERPRINT": code_fingerprint or "none",
        },
    }
    if debugger_rule_image:
        debugger = [r for r in parsed if r.name in DEBUGGER_RULES]
        if debugger:
            request["DebugHookConfig"] = {
                "S3OutputPath": output_s3.rstrip("/") + "/debug-output",
                "CollectionConfigurations": [
                    {"CollectionName": "losses", "CollectionParameters": {"save_interval": "1"}}
                ],
            }
            request["DebugRuleConfigurations"] = [
                _debug_rule(r, debugger_rule_image, job_name_prefix) for r in debugger
            ]
    digest = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()[:12]
    name = f"{job_name_prefix}-{digest}"
    if len(name) > 63:
        raise GreenpipeError(
            f"spot_train: job_name_prefix={job_name_prefix!r} is too long; SageMaker job names "
            "have at most 63 characters and 13 are the request digest"
        )
    return {"TrainingJobName": name, **request}


def _channel(name: str, uri: str) -> dict[str, Any]:
    return {
        "ChannelName": name,
        "ContentType": "application/x-parquet",
        "DataSource": {
            "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": "FullyReplicated"}
        },
    }


def _debug_rule(rule: Any, image: str, prefix: str) -> dict[str, Any]:
    params = {k: v for k, v in rule.params().items() if v is not None and k not in rule.greenpipe_only}
    if rule.name == "StalledTrainingRule":
        params["training_job_name_prefix"] = prefix  # explicit: the SDK's default carries a timestamp
    text = {k: json.dumps(v) if isinstance(v, bool) else str(v) for k, v in params.items()}
    return {
        "RuleConfigurationName": rule.name,
        "RuleEvaluatorImage": image,
        "RuleParameters": {"rule_to_invoke": rule.name, **text},
    }


def validate_request(request: dict[str, Any], operation: str = "CreateTrainingJob") -> None:
    """Check a request against botocore's SageMaker service model, plus the patterns and enums it skips."""
    from greenpipe.aws_requests import request_problems

    problems = request_problems(operation, request)
    if problems:
        raise GreenpipeError(f"{operation} request is invalid:\n" + "\n".join(problems))


__all__ = ["RULES", "training_job_request", "validate_request"]

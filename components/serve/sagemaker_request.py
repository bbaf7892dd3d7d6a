"""The SageMaker requests a serving choice needs: CreateModel, CreateEndpointConfig (ProductionVariants,
ServerlessConfig or AsyncInferenceConfig), CreateTransformJob, and a Transform step for a SageMaker pipeline.

Names are the prefix plus a digest of the request, so the same choice gives the same bytes. Each request is
checked with greenpipe's validator (botocore's service model plus the enums, patterns and lengths botocore's
own validator leaves to the service).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from greenpipe.components.serve.decision import Option
from greenpipe.components.serve.errors import ServeError

PLACEHOLDER_ROLE = "arn:aws:iam::123456789012:role/greenpipe-serve"
PLACEHOLDER_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/greenpipe:0.1.0"


def _named(prefix: str, request: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()[:12]
    name = f"{prefix}-{digest}"
    if len(name) > 63:
        raise ServeError(f"name_prefix={prefix!r} is too long: SageMaker names have at most 63 characters, 13 are ours")
    return name


def create_model(*, prefix: str, image_uri: str, role_arn: str, model_s3: str, form: str) -> dict[str, Any]:
    request = {
        "ExecutionRoleArn": role_arn,
        "PrimaryContainer": {
            "Image": image_uri,
            "ModelDataUrl": model_s3,
            "Environment": {"GREENPIPE_MODEL_FORM": form},
        },
    }
    return {"ModelName": _named(f"{prefix}-model", request), **request}


def endpoint_config(*, prefix: str, model_name: str, option: Option, async_output_s3: str) -> dict[str, Any]:
    """The endpoint config of a real-time, serverless or asynchronous choice."""
    variant: dict[str, Any] = {"VariantName": "AllTraffic", "ModelName": model_name}
    if option.mode == "serverless":
        variant["ServerlessConfig"] = {
            "MemorySizeInMB": int(option.config["memory_mb"]),
            "MaxConcurrency": int(option.config["max_concurrency"]),
        }
    elif option.mode in ("real_time", "async"):
        variant["InstanceType"] = option.config["instance_type"]
        variant["InitialInstanceCount"] = int(option.config["instance_count"])
    else:
        raise ServeError(f"mode={option.mode!r} has no endpoint: batch transform runs as a transform job")
    request: dict[str, Any] = {"ProductionVariants": [variant]}
    if option.mode == "async":
        request["AsyncInferenceConfig"] = {
            "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 4},
            "OutputConfig": {"S3OutputPath": async_output_s3},
        }
    return {"EndpointConfigName": _named(f"{prefix}-config", request), **request}


def transform_job(
    *, prefix: str, model_name: str, input_s3: str, output_s3: str, instance_type: str, max_payload_mb: int = 6
) -> dict[str, Any]:
    request = {
        "ModelName": model_name,
        "BatchStrategy": "MultiRecord",
        "MaxPayloadInMB": max_payload_mb,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_s3}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        "TransformOutput": {"S3OutputPath": output_s3, "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": instance_type, "InstanceCount": 1},
    }
    return {"TransformJobName": _named(f"{prefix}-transform", request), **request}


def transform_step(request: dict[str, Any], name: str = "BatchTransform") -> dict[str, Any]:
    """A SageMaker pipeline step of type Transform: the job's arguments without its name (the pipeline names it)."""
    return {
        "Name": name,
        "Type": "Transform",
        "Arguments": {k: v for k, v in request.items() if k != "TransformJobName"},
    }


def validate(operation: str, request: dict[str, Any]) -> None:
    """Raise if `request` breaks `operation`'s input shape in botocore's SageMaker model."""
    from greenpipe.aws_requests import request_problems

    problems = request_problems(operation, request)
    if problems:
        raise ServeError(f"serve {operation}: the {operation} request is invalid:\n  " + "\n  ".join(problems))


def requests_for(
    option: Option,
    *,
    prefix: str,
    image_uri: str,
    role_arn: str,
    model_s3: str,
    input_s3: str,
    output_s3: str,
    form: str,
) -> dict[str, Any]:
    """Every request the choice needs, validated: CreateModel, then CreateEndpointConfig or CreateTransformJob."""
    model = create_model(
        prefix=prefix,
        image_uri=image_uri or PLACEHOLDER_IMAGE,
        role_arn=role_arn or PLACEHOLDER_ROLE,
        model_s3=model_s3,
        form=form,
    )
    out: dict[str, Any] = {"CreateModel": model}
    if option.mode == "batch_transform":
        job = transform_job(
            prefix=prefix,
            model_name=model["ModelName"],
            input_s3=input_s3,
            output_s3=output_s3,
            instance_type=option.config["instance_type"],
        )
        out["CreateTransformJob"] = job
        out["TransformStep"] = transform_step(job)
    else:
        out["CreateEndpointConfig"] = endpoint_config(
            prefix=prefix, model_name=model["ModelName"], option=option, async_output_s3=output_s3
        )
    for operation in ("CreateModel", "CreateEndpointConfig", "CreateTransformJob"):
        if operation in out:
            validate(operation, out[operation])
    return out

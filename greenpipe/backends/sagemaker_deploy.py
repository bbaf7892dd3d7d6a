"""Upsert a compiled definition as a SageMaker pipeline with boto3, and optionally start an execution."""

from __future__ import annotations

import json
from typing import Any

from greenpipe.errors import CompileError, GreenpipeError


def deploy(
    definition_json: str,
    name: str,
    role_arn: str,
    start: bool = False,
    client: Any = None,
    *,
    description: str | None = None,
    parameters: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Create the pipeline `name` or update it if it exists (describe -> update or create).

    Args:
        parameters: values for an execution started with start=True; required parameters without a default
            (RoleArn, ArtifactBucket) are filled from role_arn or must be given here.
    Returns:
        {"action": "created" | "updated", "pipeline_arn": ..., "execution_arn": ... (if started)}
    """
    from botocore.exceptions import ClientError

    from greenpipe.backends.sagemaker_validate import validate_request

    definition = json.loads(definition_json)
    request: dict[str, Any] = {"PipelineName": name, "PipelineDefinition": definition_json, "RoleArn": role_arn}
    if description:
        request["PipelineDescription"] = description
    validate_request("CreatePipeline", {**request, "ClientRequestToken": "x" * 32}, where=f"pipeline {name}")
    if client is None:
        import boto3

        client = boto3.client("sagemaker")
    try:
        client.describe_pipeline(PipelineName=name)
        exists = True
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("ResourceNotFound", "ValidationException"):
            raise
        exists = False
    if exists:
        arn = client.update_pipeline(**request)["PipelineArn"]
        out: dict[str, Any] = {"action": "updated", "pipeline_arn": arn}
    else:
        arn = client.create_pipeline(**request)["PipelineArn"]  # botocore fills ClientRequestToken
        out = {"action": "created", "pipeline_arn": arn}
    if start:
        values = execution_parameters(definition, role_arn, parameters or {})
        started = client.start_pipeline_execution(
            PipelineName=name, PipelineParameters=[{"Name": k, "Value": v} for k, v in sorted(values.items())]
        )
        out["execution_arn"] = started["PipelineExecutionArn"]
    return out


def execution_parameters(definition: dict[str, Any], role_arn: str, given: dict[str, Any]) -> dict[str, str]:
    """Parameter values for StartPipelineExecution: the given ones, plus RoleArn; refuses missing ones."""
    declared = {p["Name"]: p for p in definition.get("Parameters", [])}
    values = {k: _text(v) for k, v in given.items()}
    for key in values:
        if key not in declared:
            raise GreenpipeError(f"parameter {key!r} is not in the pipeline; it has {', '.join(sorted(declared))}")
    if "RoleArn" in declared and "RoleArn" not in values:
        values["RoleArn"] = role_arn
    missing = [n for n, p in declared.items() if "DefaultValue" not in p and n not in values]
    if missing:
        raise CompileError(f"starting an execution needs values for {missing}: pass parameters={{...}}")
    return values


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)

"""One step as a standalone SageMaker CreateTrainingJob request, outside any pipeline (boto3's
`create_training_job(**request)`).

The request is the backend's own training-step Arguments (greenpipe.backends.sagemaker_jobs): a step submitted
alone runs in the container exactly as inside a compiled pipeline (same entry point, channels, environment,
spot settings). Only what a pipeline fills in at run time is given here: the inputs' S3 URIs, the output path
and the checkpoint prefix. The job name is the prefix plus a digest of the request: the same inputs give the
same bytes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from greenpipe.artifacts import Artifact
from greenpipe.backends.sagemaker_jobs import InputSource, SageMakerOptions, training_arguments
from greenpipe.backends.sagemaker_validate import is_expression
from greenpipe.errors import CompileError
from greenpipe.pipeline import Graph, PipelineParam
from greenpipe.step import Step

MAX_JOB_NAME = 63
DIGEST_CHARS = 12


def training_job_request(
    step: Step,
    *,
    job_name_prefix: str,
    inputs: Mapping[str, str],
    output_s3: str,
    options: SageMakerOptions,
    params: Mapping[str, Any] | None = None,
    checkpoint_s3: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A CreateTrainingJob request that runs `step` once.

    Args:
        inputs: input name -> S3 URI of its data (a prefix or an object).
        output_s3: where SageMaker writes the job's model.tar.gz (the step's outputs).
        options: role_arn, image and bucket must be set (a standalone job has no pipeline parameters);
            instance type, volume, runtime limits, VPC and KMS settings as for a compiled pipeline.
        params: the step's params, checked as a pipeline checks them.
        checkpoint_s3: where a spot step's checkpoints live; required for a step declared with spot resources.
        extra: request members added before the name is derived (e.g. DebugRuleConfigurations).
    """
    graph = Graph("standalone")
    declared = {i.name: i for i in step.spec.inputs}
    unknown = sorted(set(inputs) - set(declared))
    if unknown:
        raise CompileError(f"step {step.name} has no input {unknown[0]!r}: its inputs are {sorted(declared)}")
    placeholders = {name: PipelineParam(name, Artifact) for name in inputs}
    task = graph.add_task(step, {**dict(params or {}), **placeholders})
    step.check_params(step.spec.with_defaults(task.params))
    if task.step.spec.resources.spot and not checkpoint_s3:
        raise CompileError(
            f"step {step.name} trains on spot capacity: pass checkpoint_s3='s3://BUCKET/PREFIX/' so an "
            "interrupted job resumes from its last checkpoint"
        )
    sources = {name: InputSource(uri) for name, uri in sorted(inputs.items())}
    request = training_arguments(task, sources, options)
    request["OutputDataConfig"]["S3OutputPath"] = output_s3
    if "CheckpointConfig" in request:
        request["CheckpointConfig"]["S3Uri"] = checkpoint_s3
    request.update(extra or {})
    unresolved = _pipeline_references(request)
    if unresolved:
        raise CompileError(
            f"a standalone job has no pipeline parameters, but {unresolved[0]} needs one: set role_arn, image and "
            "bucket in SageMakerOptions"
        )
    digest = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()[:DIGEST_CHARS]
    name = f"{job_name_prefix}-{digest}"
    if len(name) > MAX_JOB_NAME:
        raise CompileError(
            f"job_name_prefix={job_name_prefix!r} is too long: SageMaker job names have at most {MAX_JOB_NAME} "
            f"characters and {DIGEST_CHARS + 1} are the request digest"
        )
    return {"TrainingJobName": name, **request}


def _pipeline_references(value: Any, path: str = "request") -> list[str]:
    """Where the request still holds a pipeline expression ({"Get": ...}, {"Std:Join": ...})."""
    if is_expression(value):
        return [path]
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in _pipeline_references(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _pipeline_references(item, f"{path}[{i}]")]
    return []

"""Everything `greenpipe deploy --target sagemaker` does, planned first so `--dry-run` can show all of it.

1. the user's code the steps reach -> s3://bucket/prefix/code/<digest>.tar.gz (skipped when there);
2. local Dataset inputs -> s3://bucket/prefix/objects/<digest>/<name> (skipped when there);
3. the S3 lifecycle for the prefix and the retention of the jobs' CloudWatch log groups;
4. the pipeline definition (naming the ECR image, the code archive and the staged inputs), upserted.
Every request is validated against botocore's service models while planning, before anything is sent.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Any

from greenpipe.backends.code_archive import CodeArchive, archive_for_tasks
from greenpipe.backends.image import sagemaker_image
from greenpipe.backends.lifecycle import StoragePolicy, lifecycle_rules, retention_requests, validate
from greenpipe.backends.staging import object_key, staged_name
from greenpipe.digest import digest_path
from greenpipe.errors import GreenpipeError
from greenpipe.pipeline import Pipeline


@dataclass
class DeployPlan:
    """What a deploy will send; nothing has been sent yet."""

    name: str
    role_arn: str
    bucket: str
    prefix: str
    image: str
    definition_json: str
    code: CodeArchive | None
    inputs: dict[str, tuple[str, str]] = field(default_factory=dict)  # param -> (local path, digest)
    policy: StoragePolicy = field(default_factory=StoragePolicy)
    retention: list[dict[str, Any]] = field(default_factory=list)

    def code_key(self) -> str | None:
        return self.code.key(self.prefix) if self.code else None

    def describe(self) -> dict[str, Any]:
        """The plan as a document (`greenpipe deploy --dry-run` prints it)."""
        definition = json.loads(self.definition_json)
        return {
            "pipeline": self.name,
            "image": self.image,
            "code": None
            if self.code is None
            else {
                "uri": f"s3://{self.bucket}/{self.code_key()}",
                "digest": self.code.digest,
                "bytes": len(self.code.data),
                "packages": list(self.code.roots),
                "steps": sorted(self.code.fingerprints),
            },
            "inputs": {
                name: {
                    "local": local,
                    "digest": digest,
                    "uri": f"s3://{self.bucket}/{object_key(self.prefix, digest, staged_name(local))}",
                }
                for name, (local, digest) in sorted(self.inputs.items())
            },
            "put_bucket_lifecycle_configuration": {
                "Bucket": self.bucket,
                "Rules": lifecycle_rules(self.prefix, self.policy),
                "note": "greenpipe's rules for this prefix replace its earlier ones; other rules are kept",
            },
            "put_retention_policy": self.retention,
            # where the state that outlives a run lives (greenpipe.shared_state): what the jobs carry
            "shared": _shared_location(definition),
            "upsert_pipeline": {"PipelineName": self.name, "RoleArn": self.role_arn, "Steps": _step_names(definition)},
        }


def _shared_location(definition: dict[str, Any]) -> str | None:
    """GREENPIPE_SHARED as the compiled jobs carry it (every job carries the same one)."""
    for step in definition["Steps"]:
        for found in (step, *step["Arguments"].get("IfSteps", []), *step["Arguments"].get("ElseSteps", [])):
            env = found["Arguments"].get("Environment") or found["Arguments"].get("TrainingJobDefinition", {}).get(
                "Environment", {}
            )
            if "GREENPIPE_SHARED" in env:
                value = env["GREENPIPE_SHARED"]
                return value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return None


def _step_names(definition: dict[str, Any]) -> list[str]:
    names = []
    for step in definition["Steps"]:
        names.append(step["Name"])
        if step["Type"] == "Condition":
            names += [s["Name"] for s in step["Arguments"]["IfSteps"] + step["Arguments"]["ElseSteps"]]
    return names


def _step_types(definition: dict[str, Any]) -> list[str]:
    types = []
    for step in definition["Steps"]:
        types.append(step["Type"])
        if step["Type"] == "Condition":
            types += [s["Type"] for s in step["Arguments"]["IfSteps"] + step["Arguments"]["ElseSteps"]]
    return types


def pipeline_name(name: str) -> str:
    """A SageMaker pipeline name for a greenpipe pipeline name (SageMaker allows letters, digits and dashes)."""
    return re.sub(r"-+", "-", re.sub(r"[^A-Za-z0-9-]", "-", name)).strip("-")[:256] or "greenpipe"


def plan_deploy(
    pipeline: Pipeline,
    params: dict[str, Any] | None,
    *,
    role_arn: str,
    bucket: str | None,
    image: str | None = None,
    name: str | None = None,
    prefix: str = "greenpipe",
    policy: StoragePolicy | None = None,
    **compile_options: Any,
) -> DeployPlan:
    """Build the code archive, compile the definition and check every request; send nothing."""
    from greenpipe.backends.sagemaker import compile_definition
    from greenpipe.backends.sagemaker_validate import validate_request

    if not bucket:
        raise GreenpipeError(
            "deploy needs --bucket: the S3 bucket that holds the code archive, staged inputs and run outputs "
            "(the execution role must read and write it)"
        )
    policy = policy or StoragePolicy()
    policy.check()
    ecr_image = sagemaker_image(image)
    prefix = prefix.strip("/")
    name = name or pipeline_name(pipeline.name)
    code = archive_for_tasks(pipeline.build().tasks)
    inputs: dict[str, tuple[str, str]] = {}
    for param in pipeline.params:
        given = (params or {}).get(param.name)
        if param.is_artifact and given is not None and not str(given).startswith("s3://"):
            if not os.path.exists(str(given)):
                raise GreenpipeError(
                    f"--param {param.name}={given!r}: no such file or folder; pass a path or s3:// URI"
                )
            inputs[param.name] = (str(given), digest_path(str(given)))
    text = compile_definition(
        pipeline, params, role_arn=role_arn, image=ecr_image, bucket=bucket, prefix=prefix, code=code, **compile_options
    )
    definition = json.loads(text)
    lifecycle = {"Bucket": bucket, "LifecycleConfiguration": {"Rules": lifecycle_rules(prefix, policy)}}
    validate("s3", "PutBucketLifecycleConfiguration", lifecycle)
    request = {"PipelineName": name, "RoleArn": role_arn, "PipelineDefinition": text}
    validate_request(
        "CreatePipeline", {**request, "ClientRequestToken": "x" * 32}, where=f"pipeline {request['PipelineName']}"
    )
    return DeployPlan(
        name=name,
        role_arn=role_arn,
        bucket=bucket,
        prefix=prefix,
        image=ecr_image,
        definition_json=text,
        code=code,
        inputs=inputs,
        policy=policy,
        retention=retention_requests(_step_types(definition), policy),
    )


def execute_plan(
    plan: DeployPlan, *, s3: Any = None, logs: Any = None, sagemaker: Any = None, start: bool = False
) -> dict[str, Any]:
    """Upload what is missing, set lifecycle and log retention, upsert the pipeline; what was done."""
    from greenpipe.backends.lifecycle import apply_lifecycle, apply_retention
    from greenpipe.backends.sagemaker_deploy import deploy
    from greenpipe.backends.staging import S3Objects, stage_bytes, stage_path

    if s3 is None or logs is None:
        import boto3

        s3 = s3 or boto3.client("s3")
        logs = logs or boto3.client("logs")
    store = S3Objects(plan.bucket, s3)
    out: dict[str, Any] = {"code": None, "inputs": {}}
    if plan.code is not None:
        key = plan.code.key(plan.prefix)
        out["code"] = {"uri": store.uri(key), "uploaded": stage_bytes(store, key, plan.code.data)}
    for param, (local, digest) in sorted(plan.inputs.items()):
        staged = stage_path(store, local, plan.prefix, digest)
        out["inputs"][param] = {"uri": store.uri(staged.key), "uploaded": staged.uploaded, "bytes": staged.bytes}
    out["lifecycle_rules"] = len(
        apply_lifecycle(s3, plan.bucket, plan.prefix, plan.policy)["LifecycleConfiguration"]["Rules"]
    )
    apply_retention(logs, plan.retention)
    out["log_retention"] = {r["logGroupName"]: r["retentionInDays"] for r in plan.retention}
    out.update(deploy(plan.definition_json, plan.name, plan.role_arn, start=start, client=sagemaker))
    return out

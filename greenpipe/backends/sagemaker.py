"""Compile a greenpipe pipeline to a SageMaker Pipelines definition (Version 2020-12-01), deterministically.

- runtime "processing" steps -> Processing steps running `python -m greenpipe.run <ref>` in the greenpipe image;
  "training" -> Training steps (managed spot, MaxWaitTime and checkpoints when Resources(spot=True));
  "tuning" -> Tuning steps (Bayesian, one job at a time, early stopping).
- `when(...)`: the gating step writes its NamedTuple values to a property file; the gated steps sit in the
  IfSteps of a Condition step that reads them with Std:JsonGet.
- CacheConfig on every step with a validated ExpireAfter; the code fingerprint in every job's arguments.
- No timestamps, no generated names: the same pipeline compiles to the same bytes, so SageMaker's cache
  (keyed on step arguments) keeps hitting.
Every job's Arguments are validated against botocore's service model (see sagemaker_validate).

Public API: compile_definition, deploy, step_template, expire_after; the IAM policy is
sagemaker_iam.iam_policy and the SDK interop sagemaker_sdk.to_sdk_step.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from typing import Any

from greenpipe.backends.code_archive import CodeArchive
from greenpipe.backends.image import default_image
from greenpipe.backends.sagemaker_jobs import (
    InputSource,
    SageMakerOptions,
    cache_config,
    expire_after,
    input_source,
    processing_arguments,
    property_file,
    s3_uri,
    training_arguments,
)
from greenpipe.backends.sagemaker_tuning import tuning_arguments
from greenpipe.backends.staging import staged_name
from greenpipe.digest import digest_hex, digest_path
from greenpipe.errors import CompileError, KnownOnlyAtRunTime
from greenpipe.params import canonical_json, choices, coerce
from greenpipe.pipeline import Condition, Graph, OutputRef, Pipeline, PipelineParam, Task
from greenpipe.shared_state import compiled_location
from greenpipe.step import REQUIRED, Step

VERSION = "2020-12-01"
STEP_TYPES = {"processing": "Processing", "training": "Training", "tuning": "Tuning"}
OPERATIONS = {
    "processing": "CreateProcessingJob",
    "training": "CreateTrainingJob",
    "tuning": "CreateHyperParameterTuningJob",
}
CONDITION_TYPES = {
    "==": "Equals",
    "<": "LessThan",
    "<=": "LessThanOrEqualTo",
    ">": "GreaterThan",
    ">=": "GreaterThanOrEqualTo",
}
STEP_NAME = re.compile(r"[A-Za-z0-9\-_]{1,64}")
RESERVED_PARAMS = ("RoleArn", "ArtifactBucket")


def compile_definition(
    pipeline: Pipeline,
    params: dict[str, Any] | None = None,
    *,
    role_arn: str | None = None,
    image: str | None = None,
    bucket: str | None = None,
    prefix: str = "greenpipe",
    volume_kms_key: str | None = None,
    output_kms_key: str | None = None,
    subnets: list[str] | tuple[str, ...] = (),
    security_group_ids: list[str] | tuple[str, ...] = (),
    network_isolation: bool = False,
    inter_container_encryption: bool = False,
    max_runtime_s: int = 86400,
    max_wait_s: int | None = None,
    default_expire_after: str = "P30D",
    instance_types: dict[str, str] | None = None,
    shared: str | None = None,
    validate: bool = True,
    code: CodeArchive | None = None,
) -> str:
    """The pipeline as SageMaker Pipelines definition JSON (sorted keys, no timestamps).

    Args:
        params: new defaults for pipeline parameters. A Dataset parameter given a local path gets a
            content-addressed default S3 URI (s3://bucket/prefix/objects/<digest>/<file>, where
            greenpipe.backends.staging uploads it) and its digest.
        code: the user's code archive (greenpipe.backends.code_archive): the steps that reach its code fetch it
            from s3://bucket/prefix/code/<digest>.tar.gz at start (GREENPIPE_CODE_URI) and check it.
        role_arn: the role jobs run as; None makes it a pipeline parameter `RoleArn`.
        bucket: where outputs go; None makes it a pipeline parameter `ArtifactBucket`.
        shared: where state that outlives a run lives (s3://, gs:// or a folder every job reaches); default
            GREENPIPE_SHARED, else s3://<bucket>/<prefix>/shared (see greenpipe.shared_state).
        volume_kms_key, output_kms_key, subnets, security_group_ids, network_isolation,
        inter_container_encryption: passed through to every job.
    """
    options = SageMakerOptions(
        role_arn=role_arn,
        image=image or default_image(),
        bucket=bucket,
        prefix=prefix.strip("/"),
        volume_kms_key=volume_kms_key,
        output_kms_key=output_kms_key,
        subnets=tuple(subnets),
        security_group_ids=tuple(security_group_ids),
        network_isolation=network_isolation,
        inter_container_encryption=inter_container_encryption,
        max_runtime_s=max_runtime_s,
        max_wait_s=max_wait_s,
        default_expire_after=default_expire_after,
        instance_types=dict(instance_types or {}),
        code_object=code.key("").removeprefix("code/") if code else None,
        code_steps=frozenset(code.fingerprints) if code else frozenset(),
        shared=compiled_location(shared),
    )
    definition = build_definition(pipeline, params, options)
    if validate:
        from greenpipe.backends.sagemaker_validate import validate_definition

        validate_definition(definition)
    return json.dumps(definition, indent=2, sort_keys=True) + "\n"


def build_definition(pipeline: Pipeline, params: dict[str, Any] | None, options: SageMakerOptions) -> dict[str, Any]:
    graph = pipeline.build()
    runtimes = {t.name: t.step.spec.runtime for t in graph.tasks}
    for task in graph.tasks:
        if not STEP_NAME.fullmatch(task.name):
            raise CompileError(f"step {task.name}: SageMaker step names are 1-64 letters, digits, - or _")
    effective = _effective_conditions(graph)
    gating = {c.ref.task.name for conds in effective.values() for c in conds}
    job_steps: dict[str, dict[str, Any]] = {}
    for task in graph.tasks:
        sources = {name: input_source(task, name, ref, runtimes, options) for name, ref in task.inputs.items()}
        job_steps[task.name] = job_step(task, sources, options, property_file=task.name in gating)
        # downstream steps read properties of the job type this step compiled to (a run-time-only tuning search
        # becomes a Training job), so record that, not the declared runtime
        runtimes[task.name] = {v: k for k, v in STEP_TYPES.items()}[job_steps[task.name]["Type"]]
    top: list[dict[str, Any]] = []
    groups: dict[tuple[int, ...], tuple[tuple[Condition, ...], list[str]]] = {}
    for task in graph.tasks:
        conds = effective[task.name]
        if conds:
            key = tuple(sorted(id(c) for c in conds))
            groups.setdefault(key, (conds, []))[1].append(task.name)
        else:
            top.append(job_steps[task.name])
    taken = {t.name for t in graph.tasks}
    for conds, names in groups.values():
        top.append(_condition_step(conds, [job_steps[n] for n in names], taken))
    return {
        "Version": VERSION,
        "Metadata": {"GeneratedBy": "greenpipe", "Pipeline": pipeline.name},
        "Parameters": _parameters(pipeline, params, options),
        "PipelineExperimentConfig": None,
        "Steps": top,
    }


def job_step(
    task: Task, sources: dict[str, InputSource], options: SageMakerOptions, *, property_file: bool = False
) -> dict[str, Any]:
    """One job step of the definition: Name, Type, Arguments, CacheConfig (and PropertyFiles)."""
    spec = task.step.spec
    builders = {"processing": processing_arguments, "training": training_arguments, "tuning": tuning_arguments}
    runtime = spec.runtime
    try:
        arguments = builders[runtime](task, sources, options)
    except KnownOnlyAtRunTime as exc:
        # The search is decided when the pipeline runs (e.g. the estimator comes from small_sample's choice):
        # one Training job runs the step's whole Bayesian search, one trial at a time, inside the container.
        warnings.warn(
            f"{exc}. Compiled as one SageMaker Training job that runs the whole search inside it.", stacklevel=2
        )
        runtime = "training"
        arguments = training_arguments(task, sources, options)
    out: dict[str, Any] = {
        "Name": task.name,
        "Type": STEP_TYPES[runtime],
        "Description": spec.description[:3072],
        "Arguments": arguments,
        "CacheConfig": cache_config(task, options.default_expire_after),
    }
    if property_file:
        out["PropertyFiles"] = [_property_file_entry(task)]
    return out


def _property_file_entry(task: Task) -> dict[str, Any]:
    if task.step.spec.runtime != "processing":
        raise CompileError(
            f"step {task.name}: when(...) tests its values, but it runs as a SageMaker "
            f"{STEP_TYPES[task.step.spec.runtime]} job, and SageMaker reads values only from a "
            "Processing step's property file; make the gating step runtime='processing'"
        )
    return property_file(task)


def _effective_conditions(graph: Graph) -> dict[str, tuple[Condition, ...]]:
    """Each task's own conditions plus those of everything it depends on (a skipped upstream skips it)."""
    out: dict[str, tuple[Condition, ...]] = {}
    for task in graph.tasks:
        conds: list[Condition] = []
        for cond in task.conditions:
            _check_condition(task, cond)
        for source in [*task.upstream(), task]:
            for cond in out[source.name] if source is not task else task.conditions:
                if not any(c is cond for c in conds):  # identity: a ValueRef's == builds a Condition
                    conds.append(cond)
        out[task.name] = tuple(conds)
    return out


def _check_condition(task: Task, cond: Condition) -> None:
    gate = cond.ref.task
    names = [v.name for v in gate.step.spec.values]
    if cond.ref.name not in names:
        raise CompileError(
            f"step {task.name}: when({cond.describe()}) tests value {cond.ref.name!r}, which step "
            f"{gate.name} does not write (it writes {names or 'no values'}); test one of those"
        )
    if cond.op not in CONDITION_TYPES and cond.op != "!=":
        raise CompileError(f"step {task.name}: condition operator {cond.op!r} has no SageMaker condition type")
    operand = cond.operand
    if not (
        isinstance(operand, (bool, int, float, str)) or (isinstance(operand, PipelineParam) and not operand.is_artifact)
    ):
        raise CompileError(
            f"step {task.name}: when({cond.describe()}) compares with {operand!r}; SageMaker "
            "conditions compare with a bool, int, float, str or a pipeline parameter"
        )


def _condition_step(conds: tuple[Condition, ...], steps: list[dict[str, Any]], taken: set[str]) -> dict[str, Any]:
    base = "if-" + "-".join(f"{c.ref.task.name}-{c.ref.name}" for c in conds)
    base = re.sub(r"[^A-Za-z0-9\-_]", "-", base)[:58]
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    taken.add(name)
    return {
        "Name": name,
        "Type": "Condition",
        "Description": "greenpipe when(" + " and ".join(c.describe() for c in conds) + ")",
        "Arguments": {"Conditions": [_condition(c) for c in conds], "IfSteps": steps, "ElseSteps": []},
    }


def _condition(cond: Condition) -> dict[str, Any]:
    left = {
        "Std:JsonGet": {
            "PropertyFile": {"Get": f"Steps.{cond.ref.task.name}.PropertyFiles.values"},
            "Path": cond.ref.name,
        }
    }
    right = {"Get": f"Parameters.{cond.operand.name}"} if isinstance(cond.operand, PipelineParam) else cond.operand
    if cond.op == "!=":
        return {"Type": "Not", "Condition": {"Type": "Equals", "LeftValue": left, "RightValue": right}}
    return {"Type": CONDITION_TYPES[cond.op], "LeftValue": left, "RightValue": right}


def _parameters(
    pipeline: Pipeline, overrides: dict[str, Any] | None, options: SageMakerOptions
) -> list[dict[str, Any]]:
    overrides = dict(overrides or {})
    known = {p.name for p in pipeline.params}
    for name in overrides:
        if name not in known:
            raise CompileError(
                f"pipeline {pipeline.name} has no param {name!r}; its params are: "
                f"{', '.join(sorted(known)) or '(none)'}"
            )
    out: list[dict[str, Any]] = []
    for param in pipeline.params:
        if param.name in RESERVED_PARAMS:
            raise CompileError(
                f"pipeline {pipeline.name}: param {param.name} clashes with the SageMaker parameter "
                "greenpipe adds; rename it"
            )
        if param.is_artifact:
            out += _dataset_parameters(param, overrides.get(param.name), options)
            continue
        entry: dict[str, Any] = {"Name": param.name, "Type": _parameter_type(param.type)}
        allowed = choices(param.type)
        if allowed is not None and entry["Type"] == "String":
            entry["EnumValues"] = list(allowed)  # SageMaker refuses an execution that passes another value
        default = coerce(param.name, param.type, overrides[param.name]) if param.name in overrides else param.default
        if default is not REQUIRED:
            entry["DefaultValue"] = (
                default if entry["Type"] != "String" or isinstance(default, str) else canonical_json(default)
            )
        out.append(entry)
    if not options.role_arn:
        out.append({"Name": "RoleArn", "Type": "String"})
    if not options.bucket:
        out.append({"Name": "ArtifactBucket", "Type": "String"})
    return out


def _parameter_type(tp: Any) -> str:
    allowed = choices(tp)
    base = type(allowed[0]) if allowed is not None else tp
    return {bool: "Boolean", int: "Integer", float: "Float", str: "String"}.get(base, "String")


def _dataset_parameters(param: PipelineParam, given: Any, options: SageMakerOptions) -> list[dict[str, Any]]:
    """A Dataset parameter: its S3 URI and its content digest (the entry point refuses other content)."""
    uri: dict[str, Any] = {"Name": param.name, "Type": "String"}
    digest: dict[str, Any] = {"Name": f"{param.name}_digest", "Type": "String", "DefaultValue": ""}
    if given is not None:
        text = str(given)
        if text.startswith("s3://"):
            uri["DefaultValue"] = text
        elif os.path.exists(text):
            content = digest_path(text)
            if not options.bucket:
                raise CompileError(f"param {param.name}={text!r}: a local file needs bucket=... to get an S3 URI")
            uri["DefaultValue"] = s3_uri(options, "objects", digest_hex(content), staged_name(text))
            digest["DefaultValue"] = content
        else:
            raise CompileError(f"param {param.name}={text!r} is neither an s3:// URI nor an existing local path")
    return [uri, digest]


def step_template(
    step: Step, *, image: str | None = None, role_arn: str | None = None, bucket: str | None = None
) -> dict[str, Any]:
    """One step alone as the SageMaker job step it compiles to (for the catalog).

    Its inputs and its params without a default become pipeline parameters (listed under "parameters").
    """
    from greenpipe.step import artifact_class

    spec = step.spec
    required = {p.name: PipelineParam(p.name, p.type) for p in spec.params if p.required}
    graph = Graph(spec.name)
    inputs = {i.name: PipelineParam(i.name, artifact_class(i.kind)) for i in spec.inputs}
    task = graph.add_task(step, {**inputs, **required})
    options = SageMakerOptions(role_arn=role_arn, image=image or default_image(), bucket=bucket)
    sources = {n: input_source(task, n, ref, {}, options) for n, ref in task.inputs.items()}
    out = job_step(task, sources, options, property_file=bool(spec.values) and spec.runtime == "processing")
    return {
        "operation": OPERATIONS[spec.runtime],
        "step": out,
        "parameters": sorted(inputs)
        + [f"{n}_digest" for n in sorted(inputs)]
        + sorted(required)
        + ([] if role_arn else ["RoleArn"])
        + ([] if bucket else ["ArtifactBucket"]),
    }


def deploy(
    definition_json: str, name: str, role_arn: str, start: bool = False, client: Any = None, **kwargs: Any
) -> dict[str, Any]:
    """Create or update the SageMaker pipeline `name`, and optionally start an execution."""
    from greenpipe.backends.sagemaker_deploy import deploy as _deploy

    return _deploy(definition_json, name, role_arn, start=start, client=client, **kwargs)


__all__ = ["OutputRef", "compile_definition", "deploy", "expire_after", "step_template"]

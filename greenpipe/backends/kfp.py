"""Compile a greenpipe pipeline to Kubeflow Pipelines IR YAML (kfp==2.17.0, the `kfp` extra).

Each step becomes a lightweight component (see kfp_component.py) in the greenpipe image. KFP keys its cache on
the component spec and on input artifact IDs, so the compiled tasks carry what KFP would otherwise miss:
- the step's code fingerprint as a constant parameter (`greenpipe_code`): editing a step's code, or a project
  helper it reaches, changes exactly that task's cache key;
- the content digests of data imported from outside the pipeline (`greenpipe_data`): new data at the same
  path is a cache miss, while an unchanged file keeps hitting.
`when(...)` becomes dsl.If, resources become cpu/memory/accelerator limits, and `Resources(spot=True)` becomes
a node selector and toleration (kfp-kubernetes) for EKS or GKE spot nodes. The same pipeline compiles to the
same bytes. A construct KFP cannot express raises CompileError naming the step and the construct.
"""

from __future__ import annotations

import inspect
import os
import re
import warnings
from dataclasses import dataclass
from typing import Any

from greenpipe.artifacts import write_atomic
from greenpipe.backends.kfp_component import (
    CODE_PARAM,
    DATA_PARAM,
    KFP_ARTIFACT,
    component_yaml,
    kfp_param_type,
    kfp_value,
    step_component,
)
from greenpipe.backends.kfp_lifecycle import apply_kfp_lifecycle, runs_root
from greenpipe.backends.kfp_placement import SPOT_PLACEMENTS, SpotPlacement, apply_resources, spot_placement
from greenpipe.backends.kfp_staging import ship_code, stage_input
from greenpipe.backends.lifecycle import StoragePolicy
from greenpipe.digest import digest_path
from greenpipe.errors import CompileError
from greenpipe.params import canonical_json, coerce
from greenpipe.pipeline import OPERATORS, Condition, OutputRef, Pipeline, PipelineParam, Task, ValueRef
from greenpipe.shared_state import compiled_location
from greenpipe.step import REQUIRED

__all__ = [
    "SPOT_PLACEMENTS",
    "SpotPlacement",
    "compile_pipeline",
    "component_yaml",
    "pipeline_component",
    "step_component",
]


CACHE_EXPIRY_MODES = ("disable", "ignore", "error")


@dataclass(frozen=True)
class KfpOptions:
    image: str | None = None
    spot: SpotPlacement = SPOT_PLACEMENTS["eks"]
    accelerator_type: str = "nvidia.com/gpu"
    data_digests: tuple[tuple[str, str], ...] = ()
    cache_expiry: str = "disable"
    local_conditions: bool = False
    code_uri: str | None = None  # the user's code archive (see code_archive), for the steps in code_steps
    code_steps: frozenset[str] = frozenset()
    shared: str | None = None  # GREENPIPE_SHARED, where state that outlives a run lives (greenpipe.shared_state)


def compile_pipeline(
    pipeline: Pipeline,
    out_path: str | os.PathLike[str],
    params: dict[str, Any] | None = None,
    *,
    image: str | None = None,
    spot: str | SpotPlacement | None = None,
    accelerator_type: str = "nvidia.com/gpu",
    data_digests: dict[str, str] | None = None,
    cache_expiry: str = "disable",
    code_root: str | None = None,
    shared: str | None = None,
    lifecycle: StoragePolicy | None = None,
) -> None:
    """Write `pipeline` as KFP IR YAML to `out_path` (atomically; same pipeline, same bytes).

    Args:
        params: pipeline parameter values; scalars become the compiled parameters' defaults, Dataset
            parameters become importer tasks for that path or URI (required: their digest goes into the key).
        image: the image steps run in; default greenpipe.backends.image.default_image().
        spot: "eks" or "gke" (default: GREENPIPE_KFP_SPOT, else "eks"), or your own SpotPlacement.
        data_digests: content digests for Dataset parameters given as remote URIs (s3://, gs://), which
            cannot be read at compile time; local paths are digested here.
        cache_expiry: KFP has no cache expiry, so for a step with CachePolicy(expire_after=...):
            "disable" turns its KFP cache off (never stale; a warning says so), "ignore" keeps KFP's cache
            forever, "error" refuses to compile.
        code_root: where the user's code travels: the pipeline root (s3://bucket/prefix, MinIO through
            AWS_ENDPOINT_URL, or a local folder for kfp.local). The code the steps reach outside greenpipe is
            uploaded there once as code/<digest>.tar.gz, and each step that reaches it fetches and checks it;
            local Dataset inputs go to objects/<digest>/<name> there, and the importers read them from it.
        shared: where state that outlives a run lives (the model registry, the feature catalog, tuning
            studies): s3://, gs:// or a folder every task reaches. Default: GREENPIPE_SHARED, else
            `<code_root>/shared`; every task carries it as GREENPIPE_SHARED (see greenpipe.shared_state).
        lifecycle: with an s3:// code_root (AWS or MinIO), set this expiry for the runs the pipeline writes
            under `<code_root>/runs` (its compiled default root); see greenpipe.backends.kfp_lifecycle.
    """
    from kfp import compiler

    component = pipeline_component(
        pipeline,
        params,
        image=image,
        spot=spot,
        accelerator_type=accelerator_type,
        data_digests=data_digests,
        cache_expiry=cache_expiry,
        code_root=code_root,
        shared=shared,
    )
    write_atomic(out_path, lambda tmp: compiler.Compiler().compile(component, tmp))
    if lifecycle is not None and code_root:
        apply_kfp_lifecycle(code_root, lifecycle)


def pipeline_component(
    pipeline: Pipeline,
    params: dict[str, Any] | None = None,
    *,
    image: str | None = None,
    spot: str | SpotPlacement | None = None,
    accelerator_type: str = "nvidia.com/gpu",
    data_digests: dict[str, str] | None = None,
    cache_expiry: str = "disable",
    local_conditions: bool = False,
    code_root: str | None = None,
    shared: str | None = None,
) -> Any:
    """The KFP pipeline (a GraphComponent) for `pipeline`; compile it or run it under kfp.local.

    kfp.local 2.17 cannot resolve a dsl.If condition on a named output (it looks for the task's single
    `Output`), so to run a pipeline with when() under kfp.local pass local_conditions=True: each condition
    then reads a tiny one-output task that evaluates the comparison. Compiled YAML never needs this.
    """
    from kfp import dsl

    if cache_expiry not in CACHE_EXPIRY_MODES:
        raise CompileError(f"cache_expiry={cache_expiry!r} is not one of {', '.join(CACHE_EXPIRY_MODES)}")
    values = _param_values(pipeline, params)
    graph = pipeline.build()
    code_uri, code_steps = ship_code(graph.tasks, code_root) if code_root else (None, frozenset[str]())
    options = KfpOptions(
        image,
        spot_placement(spot),
        accelerator_type,
        tuple(sorted((data_digests or {}).items())),
        cache_expiry,
        local_conditions,
        code_uri,
        code_steps,
        compiled_location(shared, code_root),
    )
    _check_graph(graph.tasks)
    scalars = [p for p in pipeline.params if not p.is_artifact]
    datasets = [p for p in pipeline.params if p.is_artifact]
    data_inputs = {p.name: _data_input(pipeline, p, values, options) for p in datasets}
    if code_root:  # local inputs travel too: to content-addressed keys under the root
        data_inputs = {
            name: _DataInput(stage_input(data.uri, data.digest, code_root), data.kind, data.digest)
            for name, data in data_inputs.items()
        }

    parameters: list[inspect.Parameter] = []

    def body(*channels: Any) -> None:  # KFP passes one channel per parameter, in signature order
        bound = dict(zip([p.name for p in parameters], channels, strict=True))
        _build_tasks(graph.tasks, bound, data_inputs, options)

    for param in scalars:
        annotation, _ = kfp_param_type(f"pipeline {pipeline.name}", param.name, param.type)
        default = values[param.name]
        if default is not REQUIRED:
            default = kfp_value(f"pipeline {pipeline.name}", param.name, param.type, default)
        parameters.append(
            inspect.Parameter(
                param.name,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                default=inspect.Parameter.empty if default is REQUIRED else default,
                annotation=_ANNOTATIONS[annotation],
            )
        )
    parameters.sort(key=lambda p: p.default is not inspect.Parameter.empty)  # Python wants required ones first
    body.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    body.__name__ = re.sub(r"\W", "_", pipeline.name)
    body.__doc__ = pipeline.description or None
    return dsl.pipeline(
        body,
        name=_kfp_name(pipeline.name),
        description=pipeline.description or None,
        pipeline_root=runs_root(code_root),  # run outputs under runs/, where the lifecycle expires them
    )


_ANNOTATIONS = {"bool": bool, "int": int, "float": float, "str": str, "list": list, "dict": dict}


def _kfp_name(name: str) -> str:
    """KFP pipeline names are lowercase letters, digits and dashes."""
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", name.lower())).strip("-") or "pipeline"


def _param_values(pipeline: Pipeline, params: dict[str, Any] | None) -> dict[str, Any]:
    """Defaults overlaid with `params`, each checked; a required scalar left out stays a required KFP param."""
    given = dict(params or {})
    pipeline.check_param_names(given)
    values: dict[str, Any] = {}
    for param in pipeline.params:
        if param.name not in given:
            values[param.name] = param.default
        elif param.is_artifact:
            values[param.name] = str(given[param.name])
        else:
            values[param.name] = coerce(param.name, param.type, given[param.name])
    return values


@dataclass(frozen=True)
class _DataInput:
    uri: str
    kind: str
    digest: str


def _data_input(pipeline: Pipeline, param: PipelineParam, values: dict[str, Any], options: KfpOptions) -> _DataInput:
    """A Dataset pipeline parameter: its URI and content digest, fixed at compile time."""
    value = values[param.name]
    if value is REQUIRED or value is None:
        raise CompileError(
            f"pipeline {pipeline.name}: Dataset parameter {param.name} needs a value to compile "
            f"for KFP (its content digest goes into the cache key): pass params={{'{param.name}': "
            "PATH_OR_URI}"
        )
    uri = str(value)
    digests = dict(options.data_digests)
    if param.name in digests:
        digest = digests[param.name]
    elif re.match(r"^[a-z][a-z0-9+.-]*://", uri):
        raise CompileError(
            f"pipeline {pipeline.name}: Dataset parameter {param.name}={uri!r} is remote, so its "
            "content cannot be digested at compile time: pass data_digests="
            f"{{'{param.name}': DIGEST}} (e.g. greenpipe.digest.digest_path of a local copy)"
        )
    else:
        if not os.path.exists(uri):
            raise CompileError(
                f"pipeline {pipeline.name}: Dataset parameter {param.name}={uri!r} does not exist: "
                "pass an existing file or folder"
            )
        uri = os.path.abspath(uri)
        digest = digest_path(uri)
    return _DataInput(uri, getattr(param.type, "kind", "dataset"), digest)


def _check_graph(tasks: list[Task]) -> None:
    """Refuse what dsl.If cannot express: reading a conditional task's output from outside its block."""
    for task in tasks:
        for name, ref in task.inputs.items():
            if isinstance(ref, OutputRef) and not _is_prefix(ref.task.conditions, task.conditions):
                raise CompileError(
                    f"step {task.name}: input {name} reads output '{ref.name}' of step {ref.task.name}, which runs "
                    f"only if {_describe(ref.task.conditions)}; KFP cannot pass an output out of a dsl.If block "
                    f"(construct: conditional output used outside its when block). Move {task.name} into the "
                    "same when(...) block"
                )
        for index, cond in enumerate(task.conditions):
            if not _is_prefix(cond.ref.task.conditions, task.conditions[:index]):
                raise CompileError(
                    f"step {task.name}: its condition {cond.describe()} reads a value of step {cond.ref.task.name}, "
                    f"which runs only if {_describe(cond.ref.task.conditions)}; KFP cannot read a value out of a "
                    "dsl.If block (construct: when() on a conditional step's value). Nest the when blocks"
                )
            if isinstance(cond.operand, (OutputRef, Condition)) or not isinstance(
                cond.operand, (bool, int, float, str, ValueRef, PipelineParam)
            ):
                raise CompileError(
                    f"step {task.name}: condition {cond.describe()} compares with "
                    f"{type(cond.operand).__name__}; KFP conditions compare with a bool, int, float, "
                    "str, a pipeline parameter or another step's value"
                )


def _is_prefix(outer: tuple[Condition, ...], inner: tuple[Condition, ...]) -> bool:
    return len(outer) <= len(inner) and all(a is b for a, b in zip(outer, inner, strict=False))


def _describe(conditions: tuple[Condition, ...]) -> str:
    return " and ".join(c.describe() for c in conditions)


def _build_tasks(
    tasks: list[Task], bound: dict[str, Any], data_inputs: dict[str, _DataInput], options: KfpOptions
) -> None:
    """Create the KFP tasks inside the pipeline body, opening and closing dsl.If blocks as `when` did."""
    from kfp import dsl

    components: dict[int, Any] = {}
    imported: dict[str, Any] = {}
    for name, data in data_inputs.items():
        importer = dsl.importer(
            artifact_uri=data.uri,
            artifact_class=getattr(dsl, KFP_ARTIFACT[data.kind]),
            reimport=False,
            metadata={"greenpipe_digest": data.digest},
        )
        importer.set_display_name(f"import-{name}")
        imported[name] = importer
    kfp_tasks: dict[str, Any] = {}
    open_blocks: list[tuple[Condition, Any]] = []
    for task in tasks:
        while open_blocks and not _is_prefix(tuple(c for c, _ in open_blocks), task.conditions):
            open_blocks.pop()[1].__exit__(None, None, None)
        for cond in task.conditions[len(open_blocks) :]:
            block = dsl.If(_kfp_condition(cond, kfp_tasks, bound, options))
            block.__enter__()
            open_blocks.append((cond, block))
        step = task.step
        if id(step) not in components:
            components[id(step)] = step_component(step, options.image)
        try:
            kfp_tasks[task.name] = _kfp_task(
                task, components[id(step)], kfp_tasks, bound, imported, data_inputs, options
            )
        except CompileError:
            raise
        except (TypeError, ValueError) as exc:
            raise CompileError(f"step {task.name}: KFP refused the task: {exc}") from exc
    while open_blocks:
        open_blocks.pop()[1].__exit__(None, None, None)


def _kfp_condition(cond: Condition, kfp_tasks: dict[str, Any], bound: dict[str, Any], options: KfpOptions) -> Any:
    left = kfp_tasks[cond.ref.task.name].outputs[cond.ref.name]
    right = cond.operand
    right_type: type = type(right)
    if isinstance(right, ValueRef):
        right, right_type = kfp_tasks[right.task.name].outputs[right.name], right.type
    elif isinstance(right, PipelineParam):
        right, right_type = bound[right.name], right.type
    if not options.local_conditions:
        return OPERATORS[cond.op](left, right)
    from greenpipe.backends.kfp_component import condition_component

    check = condition_component(cond.ref.type, right_type, options.image)(value=left, operand=right, op=cond.op)
    check.set_display_name(f"when {cond.describe()}")
    return check.output == True  # noqa: E712 - builds a KFP condition, not a Python comparison


def _kfp_task(
    task: Task,
    component: Any,
    kfp_tasks: dict[str, Any],
    bound: dict[str, Any],
    imported: dict[str, Any],
    data_inputs: dict[str, _DataInput],
    options: KfpOptions,
) -> Any:
    spec = task.step.spec
    arguments: dict[str, Any] = {}
    for name, value in task.params.items():
        if isinstance(value, PipelineParam):
            arguments[name] = bound[value.name]
        else:
            arguments[name] = kfp_value(f"step {task.name}", name, spec.param(name).type, value)
    data_digests: dict[str, str] = {}
    for name, ref in task.inputs.items():
        if isinstance(ref, PipelineParam):
            arguments[name] = imported[ref.name].output
            data_digests[name] = data_inputs[ref.name].digest
        else:
            arguments[name] = kfp_tasks[ref.task.name].outputs[ref.name]
    arguments[CODE_PARAM] = task.step.fingerprint().digest
    if spec.inputs:
        arguments[DATA_PARAM] = canonical_json(data_digests) if data_digests else ""
    kfp_task = component(**arguments)
    kfp_task.set_display_name(task.name)
    if options.code_uri and spec.ref in options.code_steps:  # greenpipe.backends.code_fetch reads these
        kfp_task.set_env_variable("GREENPIPE_CODE_URI", options.code_uri)
        kfp_task.set_env_variable("GREENPIPE_FINGERPRINT", task.step.fingerprint().digest)
    if options.shared:  # greenpipe.shared_state reads it in the pod
        kfp_task.set_env_variable("GREENPIPE_SHARED", options.shared)
    apply_resources(task.step, kfp_task, options.accelerator_type, options.spot)
    _apply_cache(task, kfp_task, options)
    return kfp_task


def _apply_cache(task: Task, kfp_task: Any, options: KfpOptions) -> None:
    policy = task.step.spec.cache
    if not policy.enabled:
        kfp_task.set_caching_options(False)
        return
    if policy.expire_after is None or options.cache_expiry == "ignore":
        return
    if options.cache_expiry == "error":
        raise CompileError(
            f"step {task.name}: CachePolicy(expire_after={policy.expire_after!r}) cannot be expressed "
            "in KFP, whose cache never expires (construct: cache expiry). Compile with "
            "cache_expiry='disable' (always rerun) or 'ignore' (reuse without expiry)"
        )
    warnings.warn(
        f"step {task.name}: KFP's cache cannot expire after {policy.expire_after}; its KFP cache is "
        "turned off so it never serves a stale result (cache_expiry='ignore' keeps it on)",
        stacklevel=4,
    )
    kfp_task.set_caching_options(False)

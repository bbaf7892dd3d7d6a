"""The Arguments of one SageMaker job step: CreateProcessingJob, CreateTrainingJob or a tuning job's config.

Every job runs `python -m greenpipe.run <step ref>` in the greenpipe image. Its code fingerprint rides in the
Environment (and in HyperParameters for training and tuning), which SageMaker's cache keys on, so editing a
step's code (or a helper it reaches) misses the cache for exactly that step.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from greenpipe import __version__
from greenpipe.container import METRIC_LINE, VALUES_FILE, VALUES_OUTPUT
from greenpipe.durations import parse_duration
from greenpipe.errors import CompileError, DurationError
from greenpipe.params import canonical_json
from greenpipe.pipeline import OutputRef, PipelineParam, Task
from greenpipe.shared_state import compiled_location

ENTRYPOINT = ["python", "-m", "greenpipe.run"]
PROCESSING_IN = "/opt/ml/processing/input"
PROCESSING_OUT = "/opt/ml/processing/output"
CHECKPOINT_DIR = "/opt/ml/checkpoints"
EXECUTION_ID = {"Get": "Execution.PipelineExecutionId"}

# (instance type, vCPU, memory GiB, GPUs), smallest first: a step gets the first that fits its Resources.
INSTANCE_TYPES = (
    ("ml.m5.large", 2, 8, 0),
    ("ml.m5.xlarge", 4, 16, 0),
    ("ml.m5.2xlarge", 8, 32, 0),
    ("ml.m5.4xlarge", 16, 64, 0),
    ("ml.m5.12xlarge", 48, 192, 0),
    ("ml.m5.24xlarge", 96, 384, 0),
    ("ml.g4dn.xlarge", 4, 16, 1),
    ("ml.g4dn.2xlarge", 8, 32, 1),
    ("ml.g4dn.4xlarge", 16, 64, 1),
    ("ml.g4dn.12xlarge", 48, 192, 4),
    ("ml.p3.16xlarge", 64, 488, 8),
)


@dataclass(frozen=True)
class SageMakerOptions:
    """Where jobs run and how they are secured. Everything here is passed through to the Create* calls."""

    role_arn: str | None = None  # None: a pipeline parameter RoleArn, given when an execution starts
    image: str = ""
    bucket: str | None = None  # None: a pipeline parameter ArtifactBucket
    prefix: str = "greenpipe"
    volume_kms_key: str | None = None
    output_kms_key: str | None = None
    subnets: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    network_isolation: bool = False
    inter_container_encryption: bool = False
    max_runtime_s: int = 86400
    max_wait_s: int | None = None  # spot training: default twice max_runtime_s
    volume_gb: int = 30
    default_expire_after: str = "P30D"
    instance_types: dict[str, str] = field(default_factory=dict)  # task name -> instance type override
    # the user's code archive (greenpipe.backends.code_archive): its object name under prefix/code/, and the refs
    # of the steps that reach code in it (the others run on the image alone and keep their cache keys)
    code_object: str | None = None
    code_steps: frozenset[str] = frozenset()
    # where state that outlives a run lives (greenpipe.shared_state): GREENPIPE_SHARED at compile time, else
    # s3://<artifact bucket>/<prefix>/shared, next to the artifacts
    shared: str | None = field(default_factory=lambda: compiled_location(None))

    def role(self) -> Any:
        return self.role_arn if self.role_arn else {"Get": "Parameters.RoleArn"}

    def bucket_ref(self) -> Any:
        return self.bucket if self.bucket else {"Get": "Parameters.ArtifactBucket"}

    def vpc(self) -> dict[str, Any] | None:
        if bool(self.subnets) != bool(self.security_group_ids):
            raise CompileError(
                "VPC config needs both subnets and security_group_ids (SageMaker's VpcConfig "
                f"requires both); got subnets={list(self.subnets)}, "
                f"security_group_ids={list(self.security_group_ids)}"
            )
        if not self.subnets:
            return None
        return {"SecurityGroupIds": list(self.security_group_ids), "Subnets": list(self.subnets)}


def join(on: str, values: list[Any]) -> Any:
    """Std:Join, or the plain string when every part is a literal. Nested ""-joins are flattened."""
    flat: list[Any] = []
    for value in values:
        inner = value.get("Std:Join") if isinstance(value, dict) else None
        if inner is not None and inner["On"] == "" and on == "":
            flat += inner["Values"]
        else:
            flat.append(value)
    if all(isinstance(v, str) for v in flat):
        return on.join(flat)
    return {"Std:Join": {"On": on, "Values": flat}}


def s3_uri(options: SageMakerOptions, *parts: Any) -> Any:
    return join("/", ["s3:/", options.bucket_ref(), options.prefix, *parts])


def param_text(value: Any) -> str:
    """A constant param as the text `greenpipe.run` coerces back (greenpipe.params.coerce from_text)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return canonical_json(value)


def param_value(value: Any) -> Any:
    """A task param as a string or a pipeline-parameter reference rendered as a string."""
    if isinstance(value, PipelineParam):
        return join("", [{"Get": f"Parameters.{value.name}"}])
    return param_text(value)


def instance_type(task: Task, options: SageMakerOptions) -> str:
    if task.name in options.instance_types:
        return options.instance_types[task.name]
    res = task.step.spec.resources
    for name, cpu, mem, gpu in INSTANCE_TYPES:
        if cpu >= res.cpu and mem >= res.memory_gb and gpu >= res.gpu and (gpu > 0) == (res.gpu > 0):
            return name
    raise CompileError(
        f"step {task.name}: Resources(cpu={res.cpu}, memory_gb={res.memory_gb}, gpu={res.gpu}) "
        "fits no single SageMaker instance greenpipe knows; lower it or pass "
        f"instance_types={{'{task.name}': 'ml....'}}"
    )


def environment(
    task: Task, extra: dict[str, str] | None = None, options: SageMakerOptions | None = None
) -> dict[str, Any]:
    env: dict[str, Any] = {
        "GREENPIPE_FINGERPRINT": task.step.fingerprint().digest,
        "GREENPIPE_STEP": task.step.spec.ref,
        "GREENPIPE_TASK": task.name,
        "GREENPIPE_VERSION": __version__,
    }
    if options is not None and options.code_object and task.step.spec.ref in options.code_steps:
        env["GREENPIPE_CODE_URI"] = s3_uri(options, "code", options.code_object)
    if options is not None:
        env["GREENPIPE_SHARED"] = options.shared or s3_uri(options, "shared")
    env.update(extra or {})
    return env


@dataclass(frozen=True)
class InputSource:
    """Where one task input comes from on S3, and whether it sits inside a training job's model.tar.gz."""

    uri: Any
    archive_member: str | None = None
    expect_digest: Any = None


def input_source(
    task: Task, name: str, ref: OutputRef | PipelineParam, runtimes: dict[str, str], options: SageMakerOptions
) -> InputSource:
    if isinstance(ref, PipelineParam):
        return InputSource(
            {"Get": f"Parameters.{ref.name}"}, expect_digest=join("", [{"Get": f"Parameters.{ref.name}_digest"}])
        )
    upstream, runtime = ref.task.name, runtimes[ref.task.name]
    if runtime == "processing":
        return InputSource({"Get": f"Steps.{upstream}.ProcessingOutputConfig.Outputs['{ref.name}'].S3Output.S3Uri"})
    if runtime == "training":
        return InputSource({"Get": f"Steps.{upstream}.ModelArtifacts.S3ModelArtifacts"}, archive_member=ref.name)
    best = {"Get": f"Steps.{upstream}.BestTrainingJob.TrainingJobName"}
    return InputSource(
        join("/", [training_output_path(ref.task, options), best, "output", "model.tar.gz"]), archive_member=ref.name
    )


def training_output_path(task: Task, options: SageMakerOptions) -> Any:
    return s3_uri(options, "runs", EXECUTION_ID, task.name)


def checkpoint_uri(task: Task, options: SageMakerOptions) -> Any:
    # No execution id: a checkpoint outlives the spot interruption that restarts its job.
    return s3_uri(options, "checkpoints", task.name, task.step.fingerprint().digest[3:19])


def container_arguments(task: Task, mode: str, sources: dict[str, InputSource], with_params: bool) -> list[Any]:
    args: list[Any] = [task.step.spec.ref, f"--sagemaker={mode}"]
    if with_params:
        for name, value in sorted(task.params.items()):
            args += ["--param", join("", [f"{name}=", param_value(value)])]
    for name, source in sorted(sources.items()):
        if source.archive_member:
            args += ["--archive-member", f"{name}={source.archive_member}"]
        if source.expect_digest is not None:
            args += ["--expect-digest", join("", [f"{name}=", source.expect_digest])]
    return args


def processing_arguments(task: Task, sources: dict[str, InputSource], options: SageMakerOptions) -> dict[str, Any]:
    spec = task.step.spec
    if any(o.name == VALUES_OUTPUT for o in spec.outputs):
        raise CompileError(
            f"step {task.name}: an output named {VALUES_OUTPUT!r} clashes with the output greenpipe "
            "uses for values and the ledger on SageMaker; rename it"
        )
    inputs = [
        {
            "InputName": name,
            "AppManaged": False,
            "S3Input": {
                "S3Uri": source.uri,
                "LocalPath": f"{PROCESSING_IN}/{name}",
                "S3DataType": "S3Prefix",
                "S3InputMode": "File",
                "S3DataDistributionType": "FullyReplicated",
            },
        }
        for name, source in sorted(sources.items())
    ]
    outputs = [
        {
            "OutputName": name,
            "AppManaged": False,
            "S3Output": {
                "S3Uri": s3_uri(options, "runs", EXECUTION_ID, task.name, name),
                "LocalPath": f"{PROCESSING_OUT}/{name}",
                "S3UploadMode": "EndOfJob",
            },
        }
        for name in sorted([o.name for o in spec.outputs] + [VALUES_OUTPUT])
    ]
    output_config: dict[str, Any] = {"Outputs": outputs}
    if options.output_kms_key:
        output_config["KmsKeyId"] = options.output_kms_key
    args: dict[str, Any] = {
        "ProcessingResources": {"ClusterConfig": compute_resources(task, options)},
        "AppSpecification": {
            "ImageUri": options.image,
            "ContainerEntrypoint": list(ENTRYPOINT),
            "ContainerArguments": container_arguments(task, "processing", sources, True),
        },
        "RoleArn": options.role(),
        "ProcessingOutputConfig": output_config,
        "StoppingCondition": {"MaxRuntimeInSeconds": options.max_runtime_s},
        "Environment": environment(task, options=options),
    }
    if inputs:
        args["ProcessingInputs"] = inputs
    network = _processing_network(options)
    if network:
        args["NetworkConfig"] = network
    return args


def _processing_network(options: SageMakerOptions) -> dict[str, Any]:
    network: dict[str, Any] = {}
    if options.inter_container_encryption:
        network["EnableInterContainerTrafficEncryption"] = True
    if options.network_isolation:
        network["EnableNetworkIsolation"] = True
    vpc = options.vpc()
    if vpc:
        network["VpcConfig"] = vpc
    return network


def compute_resources(task: Task, options: SageMakerOptions) -> dict[str, Any]:
    """One instance sized for the step, with its volume: a processing ClusterConfig and a training ResourceConfig
    have the same members."""
    resources: dict[str, Any] = {
        "InstanceCount": 1,
        "InstanceType": instance_type(task, options),
        "VolumeSizeInGB": options.volume_gb,
    }
    if options.volume_kms_key:
        resources["VolumeKmsKeyId"] = options.volume_kms_key
    return resources


def _training_common(task: Task, sources: dict[str, InputSource], options: SageMakerOptions) -> dict[str, Any]:
    """The members a training job and a tuning job's TrainingJobDefinition share."""
    resources = compute_resources(task, options)
    output: dict[str, Any] = {"S3OutputPath": training_output_path(task, options)}
    if options.output_kms_key:
        output["KmsKeyId"] = options.output_kms_key
    stopping: dict[str, Any] = {"MaxRuntimeInSeconds": options.max_runtime_s}
    common: dict[str, Any] = {
        "RoleArn": options.role(),
        "OutputDataConfig": output,
        "ResourceConfig": resources,
        "StoppingCondition": stopping,
    }
    channels = [
        {
            "ChannelName": name,
            "InputMode": "File",
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": source.uri,
                    "S3DataDistributionType": "FullyReplicated",
                }
            },
        }
        for name, source in sorted(sources.items())
    ]
    if channels:
        common["InputDataConfig"] = channels
    if task.step.spec.resources.spot:
        stopping["MaxWaitTimeInSeconds"] = options.max_wait_s or 2 * options.max_runtime_s
        if stopping["MaxWaitTimeInSeconds"] < options.max_runtime_s:
            raise CompileError(
                f"step {task.name}: max_wait_s={options.max_wait_s} is below max_runtime_s="
                f"{options.max_runtime_s}; SageMaker needs MaxWaitTime >= MaxRuntime"
            )
        common["EnableManagedSpotTraining"] = True
        common["CheckpointConfig"] = {"S3Uri": checkpoint_uri(task, options), "LocalPath": CHECKPOINT_DIR}
    if options.network_isolation:
        common["EnableNetworkIsolation"] = True
    if options.inter_container_encryption:
        common["EnableInterContainerTrafficEncryption"] = True
    vpc = options.vpc()
    if vpc:
        common["VpcConfig"] = vpc
    extra = {"GREENPIPE_CHECKPOINT_DIR": CHECKPOINT_DIR} if task.step.spec.resources.spot else {}
    members = ",".join(f"{n}={s.archive_member}" for n, s in sorted(sources.items()) if s.archive_member)
    if members:  # a tuning job passes no arguments: `train` reads them from here
        extra["GREENPIPE_ARCHIVE_MEMBERS"] = members
    common["Environment"] = environment(task, extra, options)
    return common


def hyperparameters(task: Task, skip: Collection[str] = ()) -> dict[str, Any]:
    """Step params as SageMaker hyperparameters (strings), plus the code fingerprint."""
    out = {name: param_value(value) for name, value in sorted(task.params.items()) if name not in skip}
    out["greenpipe_fingerprint"] = task.step.fingerprint().digest
    return out


def metric_definitions(task: Task) -> list[dict[str, Any]]:
    name = _metric_name(task)
    return metric_definitions_for([name] if name is not None else [])


def metric_definitions_for(names: Collection[str]) -> list[dict[str, Any]]:
    """MetricDefinitions reading the `greenpipe-metric <name>=<value>` lines greenpipe.run prints."""
    return [
        {"Name": name, "Regex": f"{METRIC_LINE} {_java_escape(name)}=([-+0-9.eE]+|nan|inf)"} for name in sorted(names)
    ]


def task_param(task: Task, name: str, default: Any = None) -> Any:
    """The value a task passes for a param, else the step's declared default, else `default`."""
    return task.step.spec.with_defaults(task.params).get(name, default)


def _metric_name(task: Task) -> str | None:
    value = task_param(task, "objective")
    return value if isinstance(value, str) else None


def _java_escape(text: str) -> str:
    return re.sub(r"([^A-Za-z0-9_])", r"\\\1", text)


def training_arguments(task: Task, sources: dict[str, InputSource], options: SageMakerOptions) -> dict[str, Any]:
    args = _training_common(task, sources, options)
    algorithm: dict[str, Any] = {
        "TrainingImage": options.image,
        "TrainingInputMode": "File",
        "ContainerEntrypoint": list(ENTRYPOINT),
        "ContainerArguments": container_arguments(task, "training", sources, False),
    }
    metrics = metric_definitions(task)
    if metrics:
        algorithm["MetricDefinitions"] = metrics
    return {"AlgorithmSpecification": algorithm, "HyperParameters": hyperparameters(task), **args}


def cache_config(task: Task, default_expire_after: str) -> dict[str, Any]:
    policy = task.step.spec.cache
    if not policy.enabled:
        return {"Enabled": False}
    return {"Enabled": True, "ExpireAfter": expire_after(policy.expire_after or default_expire_after, task.name)}


def expire_after(text: str, where: str = "pipeline") -> str:
    """An expiry as canonical ISO-8601 (`P30D`, `PT12H`, `P1DT6H30M`), refusing what SageMaker cannot hold."""
    try:
        seconds = parse_duration(text, field=f"step {where} CachePolicy.expire_after")
    except DurationError as exc:
        raise CompileError(str(exc)) from None
    if seconds <= 0 or seconds % 60:
        raise CompileError(
            f"step {where}: CachePolicy.expire_after={text!r} is not a whole number of minutes "
            "(> 0); SageMaker's ExpireAfter counts years, months, weeks, days, hours and minutes"
        )
    minutes = int(seconds // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    time = (f"{hours}H" if hours else "") + (f"{mins}M" if mins else "")
    return "P" + (f"{days}D" if days else "") + (f"T{time}" if time else "")


def property_file(task: Task) -> dict[str, Any]:
    return {"PropertyFileName": "values", "OutputName": VALUES_OUTPUT, "FilePath": VALUES_FILE}

"""Interop with the SageMaker Python SDK 3.x: a greenpipe step as an SDK step for users' own SDK pipelines.

    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from greenpipe.backends.sagemaker_sdk import to_sdk_step
    gate = to_sdk_step(drift_gate, inputs={"current": "s3://bucket/data.parquet"}, params={"threshold": 0.2},
                       role="arn:aws:iam::...:role/sm", bucket="bucket", sagemaker_session=PipelineSession())

The request it produces is the one compile_definition builds for the same step (image, command, environment
with the code fingerprint, inputs, outputs, resources, cache config), so both routes cache alike.
Needs the `sagemaker` extra; set AWS_DEFAULT_REGION before importing the SDK.
"""

from __future__ import annotations

from typing import Any

from greenpipe.backends.image import default_image
from greenpipe.backends.sagemaker_jobs import InputSource, SageMakerOptions, processing_arguments
from greenpipe.container import VALUES_FILE, VALUES_OUTPUT
from greenpipe.errors import CompileError
from greenpipe.pipeline import Graph, PipelineParam
from greenpipe.step import Step, artifact_class


def to_sdk_step(
    step: Step,
    *,
    inputs: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    role: str,
    bucket: str,
    prefix: str = "greenpipe",
    image: str | None = None,
    name: str | None = None,
    sagemaker_session: Any = None,
    **options: Any,
) -> Any:
    """A `sagemaker.mlops.workflow.steps.ProcessingStep` running this step in the greenpipe image.

    Args:
        inputs: step input name -> S3 URI or an SDK pipeline variable (another step's output property).
        params: step params (constants); the step's defaults fill the rest.
        options: more SageMakerOptions (volume_kms_key, output_kms_key, subnets, ...).
    Its `values` property file (when the step returns values) feeds the SDK's JsonGet and ConditionStep.
    """
    from sagemaker.core.network import NetworkConfig
    from sagemaker.core.processing import Processor
    from sagemaker.core.shapes import ProcessingInput, ProcessingOutput, ProcessingS3Input, ProcessingS3Output
    from sagemaker.core.workflow.properties import PropertyFile
    from sagemaker.mlops.workflow.steps import CacheConfig, ProcessingStep

    spec = step.spec
    if spec.runtime != "processing":
        raise CompileError(
            f"step {spec.name}: to_sdk_step builds Processing steps; runtime={spec.runtime!r} "
            "steps compile with compile_definition"
        )
    inputs = dict(inputs or {})
    graph = Graph(name or spec.name)
    given = {i.name: PipelineParam(i.name, artifact_class(i.kind)) for i in spec.inputs if i.name in inputs}
    task = graph.add_task(step, {**given, **(params or {})})
    if name:
        task.name = name
    opts = SageMakerOptions(role_arn=role, image=image or default_image(), bucket=bucket, prefix=prefix, **options)
    sources = {n: InputSource(f"s3://placeholder/{n}") for n in task.inputs}
    args = processing_arguments(task, sources, opts)
    cluster = args["ProcessingResources"]["ClusterConfig"]
    app = args["AppSpecification"]
    net = args.get("NetworkConfig", {})
    vpc = net.get("VpcConfig", {})
    processor = Processor(
        role=role,
        image_uri=app["ImageUri"],
        instance_count=cluster["InstanceCount"],
        instance_type=cluster["InstanceType"],
        entrypoint=app["ContainerEntrypoint"],
        volume_size_in_gb=cluster["VolumeSizeInGB"],
        volume_kms_key=cluster.get("VolumeKmsKeyId"),
        output_kms_key=args["ProcessingOutputConfig"].get("KmsKeyId"),
        max_runtime_in_seconds=args["StoppingCondition"]["MaxRuntimeInSeconds"],
        env=args["Environment"],
        sagemaker_session=sagemaker_session,
        network_config=NetworkConfig(
            enable_network_isolation=net.get("EnableNetworkIsolation", False),
            encrypt_inter_container_traffic=net.get("EnableInterContainerTrafficEncryption", False),
            security_group_ids=vpc.get("SecurityGroupIds"),
            subnets=vpc.get("Subnets"),
        )
        if net
        else None,
    )
    sdk_inputs = [
        ProcessingInput(
            input_name=item["InputName"],
            s3_input=ProcessingS3Input(
                s3_uri=inputs[item["InputName"]],
                local_path=item["S3Input"]["LocalPath"],
                s3_data_type="S3Prefix",
                s3_input_mode="File",
                s3_data_distribution_type="FullyReplicated",
            ),
        )
        for item in args.get("ProcessingInputs", [])
    ]
    sdk_outputs = [
        ProcessingOutput(
            output_name=item["OutputName"],
            s3_output=ProcessingS3Output(
                s3_uri=_sdk_value(item["S3Output"]["S3Uri"]),
                local_path=item["S3Output"]["LocalPath"],
                s3_upload_mode="EndOfJob",
            ),
        )
        for item in args["ProcessingOutputConfig"]["Outputs"]
    ]
    step_args = processor.run(
        inputs=sdk_inputs, outputs=sdk_outputs, arguments=[_sdk_value(a) for a in app["ContainerArguments"]]
    )
    cache = spec.cache
    from greenpipe.backends.sagemaker_jobs import cache_config

    config = cache_config(task, opts.default_expire_after)
    files = [PropertyFile(name="values", output_name=VALUES_OUTPUT, path=VALUES_FILE)] if spec.values else None
    return ProcessingStep(
        name=task.name,
        step_args=step_args,
        description=spec.description,
        property_files=files,
        cache_config=CacheConfig(enable_caching=cache.enabled, expire_after=config.get("ExpireAfter")),
    )


def _sdk_value(value: Any) -> Any:
    """Our definition expressions as SDK pipeline variables."""
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join

    if isinstance(value, dict) and "Std:Join" in value:
        return Join(on=value["Std:Join"]["On"], values=[_sdk_value(v) for v in value["Std:Join"]["Values"]])
    if value == {"Get": "Execution.PipelineExecutionId"}:
        return ExecutionVariables.PIPELINE_EXECUTION_ID
    if isinstance(value, dict):
        raise CompileError(f"to_sdk_step: {value} has no SDK equivalent here; pass constants as params")
    return value

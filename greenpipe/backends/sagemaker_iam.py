"""A least-privilege IAM policy for the role a compiled pipeline and its jobs run as.

Only the job kinds the compiled definition actually emits get sagemaker:Create* (a tuning step that compiles to
one training job needs no tuning actions), in the role's account when --role names it; S3 access is limited to
the artifact prefix (and the input objects given as S3 defaults); iam:PassRole only on the role, only to
SageMaker; kms only on the keys given; ECR pulls only for the image's repository; ec2 network-interface actions
only with a VPC.
"""

from __future__ import annotations

import json
import re
from typing import Any

from greenpipe.backends.image import default_image
from greenpipe.pipeline import Pipeline

JOB_ACTIONS = {
    "processing": (
        "processing-job",
        [
            "sagemaker:CreateProcessingJob",
            "sagemaker:DescribeProcessingJob",
            "sagemaker:StopProcessingJob",
            "sagemaker:AddTags",
        ],
    ),
    "training": (
        "training-job",
        [
            "sagemaker:CreateTrainingJob",
            "sagemaker:DescribeTrainingJob",
            "sagemaker:StopTrainingJob",
            "sagemaker:AddTags",
        ],
    ),
    "tuning": (
        "hyper-parameter-tuning-job",
        [
            "sagemaker:CreateHyperParameterTuningJob",
            "sagemaker:DescribeHyperParameterTuningJob",
            "sagemaker:StopHyperParameterTuningJob",
            "sagemaker:AddTags",
            "sagemaker:ListTrainingJobsForHyperParameterTuningJob",
        ],
    ),
}
# SageMaker Pipelines step type -> the job kind above
STEP_JOB_KIND = {"Processing": "processing", "Training": "training", "Tuning": "tuning", "Transform": "transform"}
JOB_ACTIONS["transform"] = (
    "transform-job",
    [
        "sagemaker:CreateTransformJob",
        "sagemaker:DescribeTransformJob",
        "sagemaker:StopTransformJob",
        "sagemaker:AddTags",
    ],
)
ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::(?P<account>\d{12}):role/")
ECR_URI = re.compile(r"(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<repo>[^:@]+)")


def emitted_job_kinds(pipeline: Pipeline, **options: Any) -> list[str]:
    """The job kinds the pipeline's compiled SageMaker definition starts (steps nested in conditions included)."""
    from greenpipe.backends.sagemaker import compile_definition

    definition = json.loads(compile_definition(pipeline, validate=False, **options))
    kinds: set[str] = set()
    pending = list(definition["Steps"])
    while pending:
        step = pending.pop()
        if step["Type"] in STEP_JOB_KIND:
            kinds.add(STEP_JOB_KIND[step["Type"]])
        arguments = step.get("Arguments", {})
        pending.extend(arguments.get("IfSteps", []) + arguments.get("ElseSteps", []))
    return sorted(kinds)


def iam_policy(
    pipeline: Pipeline,
    *,
    role_arn: str | None = None,
    bucket: str | None = None,
    prefix: str = "greenpipe",
    image: str | None = None,
    kms_key_arns: list[str] | tuple[str, ...] = (),
    vpc: bool = False,
    input_uris: list[str] | tuple[str, ...] = (),
    region: str = "*",
    account: str = "*",
) -> dict[str, Any]:
    """The policy document (IAM JSON) for `pipeline`'s execution role.

    Args:
        role_arn: the role passed to jobs (iam:PassRole is limited to it); None allows roles named *SageMaker*.
        bucket, prefix: where outputs and checkpoints go; None means any bucket, under `prefix/` only.
        kms_key_arns: keys given as volume_kms_key / output_kms_key.
        input_uris: s3:// URIs the pipeline reads besides its own prefix.
    """
    role = ROLE_ARN.match(role_arn or "")
    if account == "*" and role:
        account = role["account"]
    runtimes = emitted_job_kinds(pipeline, role_arn=role_arn, bucket=bucket, prefix=prefix, image=image)
    statements: list[dict[str, Any]] = []
    for runtime in runtimes:
        resource_kind, actions = JOB_ACTIONS[runtime]
        resources = [f"arn:aws:sagemaker:{region}:{account}:{resource_kind}/*"]
        if runtime == "tuning":  # the tuning job starts training jobs on its own
            resources.append(f"arn:aws:sagemaker:{region}:{account}:training-job/*")
        statements.append(
            {"Sid": f"SageMaker{runtime.capitalize()}Jobs", "Effect": "Allow", "Action": actions, "Resource": resources}
        )
    bucket_arn = f"arn:aws:s3:::{bucket or '*'}"
    statements.append(
        {
            "Sid": "ArtifactObjects",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
            "Resource": [f"{bucket_arn}/{prefix}/*"],
        }
    )
    statements.append(
        {
            "Sid": "ArtifactListing",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [bucket_arn],
            "Condition": {"StringLike": {"s3:prefix": [f"{prefix}/*"]}},
        }
    )
    if input_uris:
        objects = sorted(
            {
                "arn:aws:s3:::" + uri[len("s3://") :].rstrip("/") + ("*" if uri.endswith("/") else "")
                for uri in input_uris
            }
        )
        statements.append({"Sid": "PipelineInputs", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": objects})
    statements.append(
        {
            "Sid": "PassExecutionRole",
            "Effect": "Allow",
            "Action": ["iam:PassRole"],
            "Resource": [role_arn or f"arn:aws:iam::{account}:role/*SageMaker*"],
            "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        }
    )
    statements.append(
        {
            "Sid": "JobLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            "Resource": [f"arn:aws:logs:{region}:{account}:log-group:/aws/sagemaker/*"],
        }
    )
    if "training" in runtimes or "tuning" in runtimes:
        statements.append(
            {
                "Sid": "TrainingMetrics",
                "Effect": "Allow",
                "Action": ["cloudwatch:PutMetricData"],
                "Resource": ["*"],
                "Condition": {"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}},
            }
        )
    ecr = ECR_URI.match(image or default_image())
    if ecr:
        statements.append(
            {
                "Sid": "PullImage",
                "Effect": "Allow",
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                "Resource": [f"arn:aws:ecr:{ecr['region']}:{ecr['account']}:repository/{ecr['repo']}"],
            }
        )
        statements.append(
            {"Sid": "EcrLogin", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": ["*"]}
        )  # this action has no resource-level permissions
    if kms_key_arns:
        statements.append(
            {
                "Sid": "EncryptionKeys",
                "Effect": "Allow",
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:CreateGrant", "kms:DescribeKey"],
                "Resource": sorted(set(kms_key_arns)),
            }
        )
    if vpc:
        statements.append(
            {
                "Sid": "JobsInVpc",
                "Effect": "Allow",
                "Action": [
                    "ec2:CreateNetworkInterface",
                    "ec2:CreateNetworkInterfacePermission",
                    "ec2:DeleteNetworkInterface",
                    "ec2:DeleteNetworkInterfacePermission",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeVpcs",
                    "ec2:DescribeDhcpOptions",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeSecurityGroups",
                ],
                "Resource": ["*"],
            }
        )  # EC2 Describe* and ENI creation for SageMaker take no ARNs
    return {"Version": "2012-10-17", "Statement": statements}

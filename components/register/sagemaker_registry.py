"""Publish a registered version to the SageMaker Model Registry and Model Cards.

Requests are built deterministically (no clock, no random names; the ClientToken comes from the model digest)
and validated against botocore's bundled service model, plus the length, pattern and enum constraints
botocore's ParamValidator leaves to the service. Nothing here imports the sagemaker SDK; `publish` takes boto3
clients so tests run it under moto.
"""

from __future__ import annotations

import json
import re
from typing import Any

from greenpipe.components.register.errors import RegistryError


def group_name(name: str) -> str:
    """A SageMaker entity name from a registry name: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}."""
    cleaned = re.sub(r"-+", "-", re.sub(r"[^a-zA-Z0-9-]", "-", name)).strip("-")[:63].rstrip("-")
    if not cleaned:
        raise RegistryError(f"model_name={name!r} has no letters or digits to build a SageMaker name from")
    return cleaned


def report_uris(bucket: str, prefix: str, name: str, version: int) -> dict[str, str]:
    parts = [p for p in (prefix.strip("/"), group_name(name), f"v{version}") if p]
    base = f"s3://{bucket}/" + "/".join(parts)
    return {
        "metrics": f"{base}/metrics.json",
        "footprint": f"{base}/footprint.json",
        "model": f"{base}/model.tar.gz",
        "baseline": f"{base}/baseline-statistics.json",
    }


def model_package_group_request(name: str, description: str = "") -> dict[str, Any]:
    return {
        "ModelPackageGroupName": group_name(name),
        "ModelPackageGroupDescription": (description or f"greenpipe registry model {name}")[:1024],
    }


def model_package_request(
    record: dict[str, Any], *, bucket: str, prefix: str, image_uri: str, content_type: str = "text/csv"
) -> dict[str, Any]:
    """CreateModelPackage for one registry version: its container, metrics reports on S3, approval, footprint."""
    name, version = record["name"], int(record["version"])
    uris = report_uris(bucket, prefix, name, version)
    fp = record["footprint"]
    metrics: dict[str, Any] = {
        "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": uris["metrics"]}}
    }
    if record.get("baseline_digest"):
        metrics["ModelDataQuality"] = {"Statistics": {"ContentType": "application/json", "S3Uri": uris["baseline"]}}
    return {
        "ModelPackageGroupName": group_name(name),
        "ModelPackageDescription": f"{name} v{version}: model {record['model_digest']}"[:1024],
        "InferenceSpecification": {
            "Containers": [{"Image": image_uri, "ModelDataUrl": uris["model"]}],
            "SupportedContentTypes": [content_type],
            "SupportedResponseMIMETypes": [content_type],
        },
        "ModelMetrics": metrics,
        "ModelApprovalStatus": record["approval"],
        "CustomerMetadataProperties": {
            "greenpipe-registry-version": f"{name}:{version}"[:256],
            "greenpipe-model-digest": record["model_digest"][:256],
            "greenpipe-eval-digest": (record["eval_digest"] or "unknown")[:256],
            "footprint-energy-kwh": repr(float(fp["energy_kwh"])),
            "footprint-co2e-g": repr(float(fp["co2e_g"])),
            "footprint-avoided-kwh": repr(float(fp["avoided_kwh"])),
            "footprint-executions": str(len(fp["executions"])),
        },
        "ClientToken": record["model_digest"].rsplit(":", 1)[-1][:36],
    }


def model_card_request(name: str, version: int, content: dict[str, Any], status: str = "Draft") -> dict[str, Any]:
    return {
        "ModelCardName": group_name(f"{name}-v{version}"),
        "Content": json.dumps(content, sort_keys=True, separators=(",", ":")),
        "ModelCardStatus": status,
    }


def report_bodies(record: dict[str, Any]) -> dict[str, bytes]:
    """The JSON reports ModelMetrics points at, in SageMaker's model-quality report shape where one exists."""
    quality = {
        "version": 0.0,
        "greenpipe": {"eval_data_digest": record["eval_digest"] or None},
        "metrics": {k: {"value": float(v)} for k, v in sorted(record["metrics"].items())},
    }
    return {
        "metrics": json.dumps(quality, sort_keys=True).encode(),
        "footprint": json.dumps(record["footprint"], sort_keys=True).encode(),
    }


# -- validation -------------------------------------------------------------------------------------------------


def validate_request(operation: str, params: dict[str, Any]) -> None:
    """Raise RegistryError unless `params` fits botocore's model of `operation`, patterns and enums included."""
    from greenpipe.aws_requests import request_problems

    problems = request_problems(operation, params)
    if problems:
        raise RegistryError(f"{operation} request is invalid: " + "; ".join(problems))


# -- publishing --------------------------------------------------------------------------------------------------


def publish(
    record: dict[str, Any],
    *,
    sagemaker_client: Any,
    s3_client: Any,
    bucket: str,
    prefix: str,
    image_uri: str,
    model_tarball: bytes | None = None,
    baseline_statistics: bytes | None = None,
    card_status: str = "Draft",
) -> dict[str, str]:
    """Upload the reports, create the group (once), the model package and the model card; return their ARNs."""
    name, version = record["name"], int(record["version"])
    if record.get("card") is None:
        raise RegistryError(f"model {name!r} v{version} has no card; run the register step first")
    group = model_package_group_request(name)
    package = model_package_request(record, bucket=bucket, prefix=prefix, image_uri=image_uri)
    card = model_card_request(name, version, record["card"], card_status)
    for operation, params in (
        ("CreateModelPackageGroup", group),
        ("CreateModelPackage", package),
        ("CreateModelCard", card),
    ):
        validate_request(operation, params)
    uris = report_uris(bucket, prefix, name, version)
    bodies = report_bodies(record)
    if model_tarball is not None:
        bodies["model"] = model_tarball
    if baseline_statistics is not None:
        bodies["baseline"] = baseline_statistics
    for key, body in bodies.items():
        _bucket, _, obj_key = uris[key][len("s3://") :].partition("/")
        s3_client.put_object(Bucket=_bucket, Key=obj_key, Body=body)
    existing = sagemaker_client.list_model_package_groups(NameContains=group["ModelPackageGroupName"])
    names = {g["ModelPackageGroupName"]: g["ModelPackageGroupArn"] for g in existing["ModelPackageGroupSummaryList"]}
    group_arn = (
        names.get(group["ModelPackageGroupName"])
        or sagemaker_client.create_model_package_group(**group)["ModelPackageGroupArn"]
    )
    package_arn = sagemaker_client.create_model_package(**package)["ModelPackageArn"]
    card_arn = sagemaker_client.create_model_card(**card)["ModelCardArn"]
    return {"model_package_group_arn": group_arn, "model_package_arn": package_arn, "model_card_arn": card_arn}

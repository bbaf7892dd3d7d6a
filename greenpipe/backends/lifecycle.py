"""Storage that expires: an S3 lifecycle for the artifact prefix and a retention period for job logs.

Run outputs (`<prefix>/runs/`) move to an infrequent-access tier after N days and are deleted after M;
spot checkpoints (`<prefix>/checkpoints/`) are deleted after M; uploads cut short are aborted after a day.
Content-addressed objects (`<prefix>/objects/`, staged inputs) and code archives (`<prefix>/code/`) have no
expiry: a key names one content that later deploys and other teams reuse, and a compiled definition may
still read it. Every request is checked against botocore's service models before anything is sent.

A bucket has ONE lifecycle configuration, so deploy reads the rules already there and replaces only those
greenpipe wrote for this prefix (IDs `greenpipe:<prefix>:...`); everyone else's rules are kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from greenpipe.errors import GreenpipeError

# PutRetentionPolicy accepts only these (the service rejects others; botocore's model does not list them)
RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
# SageMaker writes every job's logs to one log group per job type, named by AWS (shared by the account's jobs)
LOG_GROUPS = {
    "Processing": "/aws/sagemaker/ProcessingJobs",
    "Training": "/aws/sagemaker/TrainingJobs",
    "Tuning": "/aws/sagemaker/TrainingJobs",  # a tuning job's trials are training jobs
}
STORAGE_CLASSES_MIN_DAYS = {"STANDARD_IA": 30, "ONEZONE_IA": 30, "INTELLIGENT_TIERING": 0, "GLACIER_IR": 0}
RULE_ID = "greenpipe:{prefix}:{name}"


@dataclass(frozen=True)
class StoragePolicy:
    """How long what a pipeline writes is kept. Days count from an object's creation."""

    infrequent_after_days: int = 30
    expire_after_days: int = 180
    storage_class: str = "STANDARD_IA"
    log_retention_days: int = 90

    def check(self) -> None:
        """Refuse a policy S3 or CloudWatch Logs would refuse, naming the field and the fix."""
        floor = STORAGE_CLASSES_MIN_DAYS.get(self.storage_class)
        if floor is None:
            raise GreenpipeError(
                f"storage_class={self.storage_class!r}: use one of {', '.join(sorted(STORAGE_CLASSES_MIN_DAYS))}"
            )
        if self.infrequent_after_days < floor:
            raise GreenpipeError(
                f"infrequent_after_days={self.infrequent_after_days}: S3 moves objects to {self.storage_class} "
                f"only after {floor} days or more; pass --ia-after {floor} or more"
            )
        if self.expire_after_days <= self.infrequent_after_days:
            raise GreenpipeError(
                f"expire_after_days={self.expire_after_days} must be more than infrequent_after_days="
                f"{self.infrequent_after_days}: an object is moved before it expires; raise --expire-after"
            )
        if self.log_retention_days not in RETENTION_DAYS:
            raise GreenpipeError(
                f"log_retention_days={self.log_retention_days} is not a period CloudWatch Logs keeps; use one of "
                + ", ".join(map(str, RETENTION_DAYS))
            )


def lifecycle_rules(prefix: str, policy: StoragePolicy) -> list[dict[str, Any]]:
    """The rules greenpipe owns for `prefix`."""
    base = prefix.strip("/")

    def rule(name: str, sub: str, **body: Any) -> dict[str, Any]:
        key_prefix = f"{base}/{sub}" if base else sub
        return {
            "ID": RULE_ID.format(prefix=base, name=name),
            "Filter": {"Prefix": key_prefix},
            "Status": "Enabled",
            **body,
        }

    return [
        rule(
            "runs",
            "runs/",
            Transitions=[{"Days": policy.infrequent_after_days, "StorageClass": policy.storage_class}],
            Expiration={"Days": policy.expire_after_days},
        ),
        rule("checkpoints", "checkpoints/", Expiration={"Days": policy.expire_after_days}),
        rule("incomplete-uploads", "", AbortIncompleteMultipartUpload={"DaysAfterInitiation": 1}),
    ]


def merged_rules(existing: list[dict[str, Any]], prefix: str, policy: StoragePolicy) -> list[dict[str, Any]]:
    """The bucket's rules with greenpipe's rules for `prefix` replaced (others' rules untouched)."""
    own = RULE_ID.format(prefix=prefix.strip("/"), name="")
    kept = [r for r in existing if not str(r.get("ID", "")).startswith(own)]
    return kept + lifecycle_rules(prefix, policy)


def lifecycle_request(bucket: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    """PutBucketLifecycleConfiguration's parameters, checked against botocore's S3 model."""
    request = {"Bucket": bucket, "LifecycleConfiguration": {"Rules": rules}}
    validate("s3", "PutBucketLifecycleConfiguration", request)
    return request


def retention_requests(step_types: list[str], policy: StoragePolicy) -> list[dict[str, Any]]:
    """PutRetentionPolicy's parameters for the log groups the pipeline's job types write to, checked."""
    groups = sorted({LOG_GROUPS[t] for t in step_types if t in LOG_GROUPS})
    requests = [{"logGroupName": g, "retentionInDays": policy.log_retention_days} for g in groups]
    for request in requests:
        validate("logs", "PutRetentionPolicy", request)
    return requests


def validate(service: str, operation: str, request: dict[str, Any]) -> None:
    """Raise GreenpipeError listing how `request` breaks `operation`'s input shape (types, required members,
    enums, patterns, lengths and ranges)."""
    from greenpipe.aws_requests import request_problems

    problems = request_problems(operation, request, service)
    if problems:
        raise GreenpipeError(f"the {service} {operation} request is invalid:\n  " + "\n  ".join(problems))


def apply_lifecycle(s3: Any, bucket: str, prefix: str, policy: StoragePolicy) -> dict[str, Any]:
    """Read the bucket's lifecycle, replace greenpipe's rules for `prefix`, write it back; the request sent."""
    from botocore.exceptions import ClientError

    try:
        existing = s3.get_bucket_lifecycle_configuration(Bucket=bucket).get("Rules", [])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchLifecycleConfiguration":
            raise
        existing = []
    request = lifecycle_request(bucket, merged_rules(existing, prefix, policy))
    s3.put_bucket_lifecycle_configuration(**request)
    return request


def apply_retention(logs: Any, requests: list[dict[str, Any]]) -> None:
    """Create each log group if it does not exist yet (SageMaker creates it at the first job), set retention."""
    from botocore.exceptions import ClientError

    for request in requests:
        try:
            logs.create_log_group(logGroupName=request["logGroupName"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceAlreadyExistsException":
                raise
        logs.put_retention_policy(**request)

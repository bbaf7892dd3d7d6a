"""Storage that expires on KFP: the pipeline root's run outputs get the same S3 lifecycle as SageMaker's.

KFP writes every run's artifacts under its pipeline root. When greenpipe stages to an object store root
(`--stage s3://bucket/prefix`), the compiled pipeline's default root is `<root>/runs`, so run outputs sit under
`runs/` next to what must stay (`objects/`, `code/`, `shared/`), and greenpipe.backends.lifecycle's rules for
the prefix apply unchanged: runs to an infrequent-access tier after N days and deleted after M, objects kept.
MinIO accepts the same PutBucketLifecycleConfiguration. A GCS root gets the run prefix but no lifecycle here:
set one with `gcloud storage buckets update --lifecycle-file` (the rules are printed by `lifecycle_plan`).
"""

from __future__ import annotations

from typing import Any

from greenpipe.backends.lifecycle import StoragePolicy, apply_lifecycle, lifecycle_request, lifecycle_rules

RUNS = "runs"


def runs_root(root: str | None) -> str | None:
    """The default pipeline root a pipeline staged to `root` is compiled with: `<root>/runs` for an object
    store; None for a local folder (kfp.local is given its root when it starts)."""
    if not root or not root.startswith(("s3://", "gs://")):
        return None
    return f"{root.rstrip('/')}/{RUNS}"


def lifecycle_plan(root: str, policy: StoragePolicy | None = None) -> dict[str, Any] | None:
    """What deploy would set for the root's bucket: S3's PutBucketLifecycleConfiguration (greenpipe's rules for
    the prefix, checked against botocore's model), GCS's lifecycle JSON, or None for a folder."""
    policy = policy or StoragePolicy()
    policy.check()
    bucket, prefix = _split(root)
    if root.startswith("s3://"):
        return {"put_bucket_lifecycle_configuration": lifecycle_request(bucket, lifecycle_rules(prefix, policy))}
    if root.startswith("gs://"):
        return {"gcs_lifecycle": gcs_lifecycle(prefix, policy), "bucket": bucket, "applied": False}
    return None


def apply_kfp_lifecycle(root: str, policy: StoragePolicy | None = None, client: Any = None) -> dict[str, Any] | None:
    """Set greenpipe's lifecycle rules for an s3:// root's prefix (others' rules kept); the request sent, or None
    when the root is not on S3."""
    policy = policy or StoragePolicy()
    policy.check()
    if not root.startswith("s3://"):
        return None
    bucket, prefix = _split(root)
    if client is None:
        import boto3

        client = boto3.client("s3")
    return apply_lifecycle(client, bucket, prefix, policy)


def gcs_lifecycle(prefix: str, policy: StoragePolicy) -> dict[str, Any]:
    """The same rules in GCS's lifecycle format (NEARLINE stands for S3's infrequent-access tier)."""
    runs = [f"{prefix}/{RUNS}/" if prefix else f"{RUNS}/"]
    return {
        "rule": [
            {
                "action": {"type": "SetStorageClass", "storageClass": "NEARLINE"},
                "condition": {"age": policy.infrequent_after_days, "matchesPrefix": runs},
            },
            {"action": {"type": "Delete"}, "condition": {"age": policy.expire_after_days, "matchesPrefix": runs}},
        ]
    }


def _split(root: str) -> tuple[str, str]:
    rest = root.split("://", 1)[1] if "://" in root else root
    bucket, _, prefix = rest.partition("/")
    return bucket, prefix.strip("/")

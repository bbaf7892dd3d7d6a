"""Storage expires on KFP too: a pipeline staged to an S3 (or MinIO) root writes its runs under `<root>/runs`,
and the bucket gets SageMaker's lifecycle rules for that prefix (others' rules kept), against moto's server."""

import pytest
import yaml

from greenpipe.backends.kfp_lifecycle import lifecycle_plan, runs_root
from greenpipe.backends.lifecycle import StoragePolicy
from greenpipe.errors import GreenpipeError

pytest.importorskip("kfp")
boto3 = pytest.importorskip("boto3")

FOREIGN_RULE = {
    "ID": "someone-elses-logs",
    "Filter": {"Prefix": "logs/"},
    "Status": "Enabled",
    "Expiration": {"Days": 7},
}


def test_a_pipeline_staged_to_s3_writes_runs_under_runs_and_the_bucket_expires_them(aws, tmp_path):
    from greenpipe.backends.kfp import compile_pipeline
    from greenpipe.loader import load_pipeline

    s3 = boto3.client("s3")
    s3.put_bucket_lifecycle_configuration(Bucket="gp-artifacts", LifecycleConfiguration={"Rules": [FOREIGN_RULE]})
    root = "s3://gp-artifacts/team"
    out = tmp_path / "p.yaml"
    compile_pipeline(load_pipeline("train"), out, code_root=root, lifecycle=StoragePolicy(30, 90))
    compiled = next(yaml.safe_load_all(out.read_text()))  # the pipeline spec; then the platform spec
    assert compiled["defaultPipelineRoot"] == "s3://gp-artifacts/team/runs"
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket="gp-artifacts")["Rules"]}
    assert "someone-elses-logs" in rules
    runs = rules["greenpipe:team:runs"]
    assert runs["Filter"]["Prefix"] == "team/runs/" and runs["Expiration"]["Days"] == 90
    assert runs["Transitions"][0] == {"Days": 30, "StorageClass": "STANDARD_IA"}
    kept = ("team/objects", "team/code", "team/shared")
    assert not any(r.get("Filter", {}).get("Prefix", "").startswith(kept) for r in rules.values())
    executors = compiled["deploymentSpec"]["executors"]
    envs = [{e["name"]: e["value"] for e in ex["container"].get("env", [])} for ex in executors.values()]
    assert {env.get("GREENPIPE_SHARED") for env in envs} == {"s3://gp-artifacts/team/shared"}


def test_the_plan_is_validated_and_a_folder_root_has_none():
    plan = lifecycle_plan("s3://bucket/team", StoragePolicy(30, 180))
    request = plan["put_bucket_lifecycle_configuration"]
    assert request["Bucket"] == "bucket"
    assert {r["ID"] for r in request["LifecycleConfiguration"]["Rules"]} >= {"greenpipe:team:runs"}
    assert lifecycle_plan("/tmp/kfp-root") is None and runs_root("/tmp/kfp-root") is None
    gcs = lifecycle_plan("gs://bucket/team", StoragePolicy(30, 180))
    assert gcs["applied"] is False and gcs["gcs_lifecycle"]["rule"][1]["condition"]["matchesPrefix"] == ["team/runs/"]
    with pytest.raises(GreenpipeError, match="only after 30 days"):
        lifecycle_plan("s3://bucket/team", StoragePolicy(10, 60))

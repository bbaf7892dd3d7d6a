"""`greenpipe deploy --target sagemaker` against moto running as a real HTTP server on the loopback, with boto3
over the wire: code and data uploaded once, lifecycle and log retention set, the pipeline upserted; then each
compiled Processing job run by the container entry point, job by job, reading from and writing to the moto S3
server in a process where the user's package is not importable, giving the local runner's bytes."""

import json
import os
import re
import subprocess
import sys

import pytest
from sagemaker_emulator import MotoS3, SageMakerEmulator, fresh_venv_with_greenpipe
from user_project import PACKAGE, import_project, write_project

from greenpipe.backends.lifecycle import StoragePolicy
from greenpipe.backends.sagemaker_rollout import execute_plan, plan_deploy
from greenpipe.digest import digest_bytes
from greenpipe.errors import GreenpipeError
from greenpipe.runner import Runner
from greenpipe.store import Store

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto")

ROLE = "arn:aws:iam::123456789012:role/greenpipe-sm"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/greenpipe:0.1.0"
BUCKET = "gp-artifacts"
FOREIGN_RULE = {
    "ID": "someone-elses-logs",
    "Filter": {"Prefix": "logs/"},
    "Status": "Enabled",
    "Expiration": {"Days": 7},
}


# moto_endpoint and aws (moto as an HTTP server, boto3 pointed at it, a fresh bucket) are in conftest.py


@pytest.fixture
def user_steps(tmp_path):
    steps = import_project(write_project(tmp_path / "project"))
    data = tmp_path / "values.json"
    data.write_text("[1, 2.5, 4]")
    return steps, data


def keys(prefix=""):
    s3 = boto3.client("s3")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def test_deploy_uploads_code_and_data_once_sets_lifecycle_and_retention_and_upserts(aws, user_steps):
    steps, data = user_steps
    boto3.client("s3").put_bucket_lifecycle_configuration(
        Bucket=BUCKET, LifecycleConfiguration={"Rules": [FOREIGN_RULE]}
    )
    plan = plan_deploy(steps.travel, {"src": str(data)}, role_arn=ROLE, bucket=BUCKET, image=IMAGE)
    first = execute_plan(plan)
    assert first["action"] == "created" and first["code"]["uploaded"] and first["inputs"]["src"]["uploaded"]
    code_key = plan.code.key("greenpipe")
    assert boto3.client("s3").get_object(Bucket=BUCKET, Key=code_key)["Body"].read() == plan.code.data
    hexdigest = digest_bytes(data.read_bytes()).split(":")[1]
    assert f"greenpipe/objects/{hexdigest}/values.json" in keys("greenpipe/objects/")

    again = execute_plan(plan_deploy(steps.travel, {"src": str(data)}, role_arn=ROLE, bucket=BUCKET, image=IMAGE))
    assert again["action"] == "updated"
    assert again["code"] == {"uri": f"s3://{BUCKET}/{code_key}", "uploaded": False}
    assert again["inputs"]["src"]["uploaded"] is False

    rules = boto3.client("s3").get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    by_id = {r["ID"]: r for r in rules}
    assert "someone-elses-logs" in by_id and len(rules) == 4  # theirs kept, ours replaced (not duplicated)
    runs = by_id["greenpipe:greenpipe:runs"]
    assert runs["Filter"]["Prefix"] == "greenpipe/runs/" and runs["Expiration"]["Days"] == 180
    assert runs["Transitions"][0] == {"Days": 30, "StorageClass": "STANDARD_IA"}
    assert not any(r.get("Filter", {}).get("Prefix", "").startswith("greenpipe/objects") for r in rules)
    groups = boto3.client("logs").describe_log_groups(logGroupNamePrefix="/aws/sagemaker/")["logGroups"]
    assert {g["logGroupName"]: g.get("retentionInDays") for g in groups} == {"/aws/sagemaker/ProcessingJobs": 90}
    described = boto3.client("sagemaker").describe_pipeline(PipelineName="travel")
    definition = json.loads(described["PipelineDefinition"])
    env = definition["Steps"][0]["Arguments"]["Environment"]
    assert env["GREENPIPE_CODE_URI"] == f"s3://{BUCKET}/{code_key}"
    assert env["GREENPIPE_SHARED"] == f"s3://{BUCKET}/greenpipe/shared"


def test_dry_run_shows_everything_and_sends_nothing(user_steps, tmp_path):
    steps, data = user_steps
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "GREENPIPE_SHARED")}
    env.update(AWS_ENDPOINT_URL="http://127.0.0.1:9", AWS_DEFAULT_REGION="us-east-1")  # nothing listens on 9
    args = ["deploy", f"{PACKAGE}.steps:travel", "--target", "sagemaker", "--role", ROLE, "--bucket", BUCKET]
    args += ["--image", IMAGE, "--param", f"src={data}", "--log-retention", "30", "--dry-run"]
    proc = subprocess.run(
        [sys.executable, "-m", "greenpipe.cli", "--home", str(tmp_path / "home"), *args],
        cwd=tmp_path / "project",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    shown = json.loads(proc.stdout)
    assert re.fullmatch(rf"s3://{BUCKET}/greenpipe/code/[0-9a-f]{{64}}\.tar\.gz", shown["code"]["uri"])
    assert shown["code"]["packages"] == [PACKAGE] and shown["image"] == IMAGE
    assert shown["inputs"]["src"]["uri"].endswith("/values.json")
    assert shown["put_retention_policy"] == [{"logGroupName": "/aws/sagemaker/ProcessingJobs", "retentionInDays": 30}]
    rules = {r["ID"]: r for r in shown["put_bucket_lifecycle_configuration"]["Rules"]}
    assert rules["greenpipe:greenpipe:runs"]["Expiration"] == {"Days": 180}
    assert shown["upsert_pipeline"]["Steps"] == ["scale", "total"]
    assert shown["shared"] == f"s3://{BUCKET}/greenpipe/shared"  # the state that outlives a run, next to the runs


def test_policies_s3_or_logs_would_refuse_are_refused_before_anything_is_sent(user_steps):
    steps, data = user_steps
    with pytest.raises(GreenpipeError, match="log_retention_days=45 is not a period CloudWatch Logs keeps"):
        plan_deploy(
            steps.travel, None, role_arn=ROLE, bucket=BUCKET, image=IMAGE, policy=StoragePolicy(log_retention_days=45)
        )
    with pytest.raises(GreenpipeError, match="only after 30 days"):
        plan_deploy(steps.travel, None, role_arn=ROLE, bucket=BUCKET, image=IMAGE, policy=StoragePolicy(10, 60))
    with pytest.raises(GreenpipeError, match="deploy needs --bucket"):
        plan_deploy(steps.travel, None, role_arn=ROLE, bucket=None, image=IMAGE)
    with pytest.raises(GreenpipeError, match="not an Amazon ECR image"):
        plan_deploy(steps.travel, None, role_arn=ROLE, bucket=BUCKET, image="ghcr.io/greenpipe/greenpipe:0.1.0")


def test_deployed_jobs_run_job_by_job_on_moto_without_the_user_package_and_match_the_local_runner(
    aws, user_steps, tmp_path
):
    steps, data = user_steps
    plan = plan_deploy(steps.travel, {"src": str(data), "factor": 3.0}, role_arn=ROLE, bucket=BUCKET, image=IMAGE)
    execute_plan(plan)
    jobs = SageMakerEmulator(tmp_path, json.loads(plan.definition_json), s3=MotoS3(), env=aws)
    jobs.run()
    store = Store(tmp_path / "local")
    local = Runner(steps.travel, {"src": str(data), "factor": 3.0}, store=store).run()
    assert local.status == "succeeded"
    for result in local.steps:
        remote = jobs.output_bytes(result.name, "out")
        assert digest_bytes(remote) == result.outputs["out"], result.name
    assert json.loads(jobs.output_bytes("total", "out")) == {"total": 52.5}


FEATURES = '''"""A helper module of the project: column names as the steps want them."""

SEPARATOR = "_"


def tidy_columns(columns):
    return [str(c).strip().replace(" ", SEPARATOR) for c in columns]
'''


def test_a_greenpipe_new_project_deploys_to_moto_and_its_jobs_match_the_local_runner(aws, tmp_path):
    """The `greenpipe new` scaffold, given a helper module and a third-party requirement, deployed; each job
    run by the entry point without the project installed; every output has the local runner's digest."""
    import importlib

    from greenpipe.digest import digest_path
    from greenpipe.scaffold import new_project

    root = new_project("gp_scaffold_demo", tmp_path)
    package = root / "src" / "gp_scaffold_demo"
    (package / "features.py").write_text(FEATURES)
    steps = (package / "steps.py").read_text()
    steps = steps.replace("from greenpipe import", "from gp_scaffold_demo import features\nfrom greenpipe import")
    steps = steps.replace('[str(c).replace(" ", "_") for c in frame.columns]', "features.tidy_columns(frame.columns)")
    (package / "steps.py").write_text(steps)
    pyproject = (root / "pyproject.toml").read_text()
    (root / "pyproject.toml").write_text(
        pyproject.replace("dependencies = [", 'dependencies = ["scikit-learn>=1", ', 1)
    )
    sys.path.insert(0, str(root / "src"))
    try:
        pipe = importlib.import_module("gp_scaffold_demo.pipeline").gp_scaffold_demo_pipeline
    finally:
        sys.path.remove(str(root / "src"))
    plan = plan_deploy(pipe, None, role_arn=ROLE, bucket=BUCKET, image=IMAGE)
    assert plan.code is not None and plan.code.roots == ("gp_scaffold_demo",)
    assert plan.describe()["code"]["steps"] == ["gp_scaffold_demo.steps:load_data"]  # components: in the image
    manifest = json.loads(__import__("tarfile").open(fileobj=__import__("io").BytesIO(plan.code.data)).extractfile(
        "greenpipe-code.json").read())  # fmt: skip
    assert "scikit-learn>=1" in manifest["requirements"]
    execute_plan(plan)
    jobs = SageMakerEmulator(tmp_path, json.loads(plan.definition_json), s3=MotoS3(), env=aws)
    jobs.run()
    local = Runner(pipe, store=Store(tmp_path / "local")).run()
    assert local.status == "succeeded"
    compared = 0
    for result in local.steps:
        for output, digest in result.outputs.items():
            assert digest_path(jobs.output_path(result.name, output)) == digest, f"{result.name}.{output}"
            compared += 1
    assert compared >= 5
    assert boto3.client("sagemaker").describe_pipeline(PipelineName="gp-scaffold-demo-pipeline")["PipelineArn"]


def test_a_code_archive_missing_from_the_bucket_fails_the_job_with_one_message_and_a_failure_reason(aws, tmp_path):
    root = tmp_path / "job"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("GREENPIPE_")}
    env.update(aws, GREENPIPE_SM_ROOT=str(root), GREENPIPE_HOME=str(root / "home"))
    env["GREENPIPE_CODE_URI"] = f"s3://{BUCKET}/greenpipe/code/{'0' * 64}.tar.gz"
    command = [sys.executable, "-m", "greenpipe.run", f"{PACKAGE}.steps:scale", "--sagemaker=processing"]
    proc = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and "could not be downloaded" in proc.stderr
    failure = (root / "opt/ml/output/failure").read_text()  # SageMaker shows it as the job's FailureReason
    assert "could not be downloaded" in failure and "s3:GetObject" in failure


@pytest.mark.slow
def test_jobs_in_a_fresh_venv_with_greenpipe_from_a_wheel_run_the_deployed_user_code(aws, user_steps, tmp_path):
    steps, data = user_steps
    python = fresh_venv_with_greenpipe(tmp_path)
    where = subprocess.run(
        [python, "-c", "import greenpipe; print(greenpipe.__file__)"], capture_output=True, text=True, cwd=tmp_path
    ).stdout
    assert "site-packages" in where and str(tmp_path / "venv") in where  # the wheel's greenpipe, not the checkout
    plan = plan_deploy(steps.travel, {"src": str(data), "factor": 3.0}, role_arn=ROLE, bucket=BUCKET, image=IMAGE)
    execute_plan(plan)
    jobs = SageMakerEmulator(tmp_path, json.loads(plan.definition_json), s3=MotoS3(), env=aws, python=python)
    jobs.run()
    local = Runner(steps.travel, {"src": str(data), "factor": 3.0}, store=Store(tmp_path / "local")).run()
    for result in local.steps:
        assert digest_bytes(jobs.output_bytes(result.name, "out")) == result.outputs["out"], result.name


def test_a_user_training_step_runs_as_a_training_job_on_moto_from_the_code_archive(aws, user_steps, tmp_path):
    steps, data = user_steps
    plan = plan_deploy(steps.travel_train, {"src": str(data)}, role_arn=ROLE, bucket=BUCKET, image=IMAGE)
    definition = json.loads(plan.definition_json)
    fit = next(item for item in definition["Steps"] if item["Name"] == "fit_mean")
    assert fit["Type"] == "Training" and "GREENPIPE_CODE_URI" in fit["Arguments"]["Environment"]
    execute_plan(plan)
    jobs = SageMakerEmulator(tmp_path, definition, s3=MotoS3(), env=aws)
    jobs.run()
    local = Runner(steps.travel_train, {"src": str(data)}, store=Store(tmp_path / "local")).run()
    assert local.status == "succeeded"
    read = next(s for s in local.steps if s.name == "read_model")
    assert digest_bytes(jobs.output_bytes("read_model", "out")) == read.outputs["out"]
    assert json.loads(jobs.output_bytes("read_model", "out")) == {"mean": 26.0}  # mean(12, 15, 18) + 1 + 10

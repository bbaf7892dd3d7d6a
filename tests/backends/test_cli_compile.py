"""`greenpipe compile` and `greenpipe iam-policy` from the command line: deterministic files, clear errors."""

import json

import pytest

ECR_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/greenpipe:0.1.0"


@pytest.mark.parametrize("target, name", [("sagemaker", "definition.json"), ("kfp", "pipeline.yaml")])
def test_compile_twice_gives_the_same_bytes(cli, tmp_path, target, name):
    if target == "kfp":
        pytest.importorskip("kfp")
    first, second = tmp_path / f"a-{name}", tmp_path / f"b-{name}"
    env = {"AWS_DEFAULT_REGION": "us-east-1", "GREENPIPE_IMAGE": ECR_IMAGE}
    cli("compile", "pipe.py:demo", "--target", target, "--out", str(first), "--param", "limit=3", env=env)
    cli("compile", "pipe.py:demo", "--target", target, "--out", str(second), "--param", "limit=3", env=env)
    assert first.read_bytes() == second.read_bytes() and first.stat().st_size > 500
    if target == "sagemaker":
        definition = json.loads(first.read_text())
        assert definition["Version"] == "2020-12-01"
        assert any(step["Type"] == "Condition" for step in definition["Steps"])


def test_sagemaker_compile_without_an_ecr_image_says_how_to_get_one(cli, tmp_path):
    out = tmp_path / "d.json"
    args = ("compile", "pipe.py:demo", "--target", "sagemaker", "--out", str(out))
    none = cli(*args, env={"GREENPIPE_IMAGE": ""}, check=False)
    assert none.returncode == 2 and "no image is set" in none.stderr and "Traceback" not in none.stderr
    assert "only from a private Amazon ECR repository" in none.stderr and "docker push" in none.stderr
    public = cli(*args, "--image", "ghcr.io/greenpipe/greenpipe:0.1.0", check=False)
    assert public.returncode == 2 and "'ghcr.io/greenpipe/greenpipe:0.1.0' is not an Amazon ECR image" in public.stderr
    assert not out.exists()
    cli(*args, "--image", ECR_IMAGE)
    assert json.loads(out.read_text())["Steps"][0]["Arguments"]["AppSpecification"]["ImageUri"] == ECR_IMAGE


def test_compile_with_a_bad_param_is_a_user_error(cli, tmp_path):
    proc = cli(
        "compile",
        "pipe.py:demo",
        "--target",
        "sagemaker",
        "--out",
        str(tmp_path / "d.json"),
        "--param",
        "limit=lots",
        check=False,
    )
    assert proc.returncode == 2 and "param limit='lots' is not an int" in proc.stderr
    assert not (tmp_path / "d.json").exists()


@pytest.mark.parametrize(
    "target, flag, why",
    [
        ("kfp", "--role", "a KFP pipeline runs with the cluster's service account"),
        ("kfp", "--bucket", "a KFP pipeline writes to its pipeline root"),
        ("sagemaker", "--stage", "for SageMaker, `greenpipe deploy` uploads the code"),
    ],
)
def test_an_option_of_another_target_is_refused_before_any_work(cli, tmp_path, target, flag, why):
    out = tmp_path / "compiled"
    proc = cli("compile", "pipe.py:demo", "--target", target, "--out", str(out), flag, "x", check=False)
    assert proc.returncode == 2 and f"{flag} is not an option of --target {target}: {why}" in proc.stderr
    assert "Traceback" not in proc.stderr and not out.exists()


def test_iam_policy_grants_only_processing_for_a_processing_pipeline(cli):
    policy = json.loads(cli("iam-policy", "pipe.py:demo", "--role", "arn:aws:iam::123456789012:role/gp").stdout)
    actions = {
        a for s in policy["Statement"] for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    }
    assert "sagemaker:CreateProcessingJob" in actions
    assert "sagemaker:CreateTrainingJob" not in actions and "sagemaker:CreateHyperParameterTuningJob" not in actions


def test_shared_location_is_compiled_into_every_job_and_a_kfp_lifecycle_needs_an_s3_root(cli, tmp_path):
    out = tmp_path / "d.json"
    shared = "s3://team-bucket/greenpipe/state"
    env = {"AWS_DEFAULT_REGION": "us-east-1", "GREENPIPE_IMAGE": ECR_IMAGE}
    cli("compile", "pipe.py:demo", "--target", "sagemaker", "--out", str(out), "--shared", shared, env=env)
    steps = json.loads(out.read_text())["Steps"]
    jobs = [s for s in steps if s["Type"] != "Condition"]
    jobs += [j for s in steps if s["Type"] == "Condition" for j in s["Arguments"]["IfSteps"]]
    assert jobs and {j["Arguments"]["Environment"]["GREENPIPE_SHARED"] for j in jobs} == {shared}
    bad = cli(
        "compile",
        "pipe.py:demo",
        "--target",
        "sagemaker",
        "--out",
        str(out),
        "--shared",
        "ftp://x",
        env=env,
        check=False,
    )
    assert bad.returncode == 2 and "ftp://x" in bad.stderr and "Traceback" not in bad.stderr
    pytest.importorskip("kfp")
    args = ("compile", "pipe.py:demo", "--target", "kfp", "--out", str(tmp_path / "p.yaml"), "--expire-after", "90")
    refused = cli(*args, check=False)
    assert refused.returncode == 2 and "pass --stage s3://BUCKET/PREFIX" in refused.stderr

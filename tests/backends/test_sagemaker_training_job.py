"""One step submitted alone as a CreateTrainingJob request (greenpipe.backends.sagemaker_training_job): valid for
botocore, deterministic, spot with checkpoints, and a job that really trains when SageMaker's execution is
emulated (the request is the backend's own training-step Arguments)."""

import json
import pickle
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from sagemaker_emulator import SageMakerEmulator

from greenpipe.aws_requests import request_problems
from greenpipe.backends.sagemaker_jobs import SageMakerOptions
from greenpipe.backends.sagemaker_training_job import training_job_request
from greenpipe.components.spot_train import spot_train
from greenpipe.components.spot_train.sagemaker_debugger import debugger_members
from greenpipe.errors import GreenpipeError

OPTIONS = SageMakerOptions(
    role_arn="arn:aws:iam::123456789012:role/SageMakerRole",
    image="123456789012.dkr.ecr.us-east-1.amazonaws.com/greenpipe:0.1.0",
    bucket="bucket",
)
RULES = ["ExplodingTensor", {"name": "StalledTrainingRule", "threshold": 600}]
RULE_IMAGE = "503895931360.dkr.ecr.us-east-1.amazonaws.com/sagemaker-debugger-rules:latest"


def spot_request(**changes):
    args = {
        "job_name_prefix": "gp-spot-train",
        "inputs": {"data": "s3://bucket/data/train/", "validation": "s3://bucket/data/val/"},
        "output_s3": "s3://bucket/out",
        "checkpoint_s3": "s3://bucket/ckpt/abc/",
        "options": OPTIONS,
        "params": {"target": "y", "rules": RULES, "max_epochs": 4},
    }
    args.update(changes)
    return training_job_request(spot_train, **args)


def test_a_spot_train_request_is_valid_managed_spot_with_checkpoints_and_deterministic():
    request = spot_request()
    assert request_problems("CreateTrainingJob", request) == []
    assert request["EnableManagedSpotTraining"] is True
    stop = request["StoppingCondition"]
    assert stop["MaxWaitTimeInSeconds"] >= stop["MaxRuntimeInSeconds"]
    assert request["CheckpointConfig"] == {"S3Uri": "s3://bucket/ckpt/abc/", "LocalPath": "/opt/ml/checkpoints"}
    assert [c["ChannelName"] for c in request["InputDataConfig"]] == ["data", "validation"]  # the step's inputs
    assert json.loads(request["HyperParameters"]["rules"]) == RULES  # the rules run in the container
    assert request["AlgorithmSpecification"]["ContainerArguments"][:2] == [spot_train.spec.ref, "--sagemaker=training"]
    assert request == spot_request()
    assert request["TrainingJobName"].startswith("gp-spot-train-")
    assert spot_request(params={"target": "y", "max_epochs": 5})["TrainingJobName"] != request["TrainingJobName"]


def test_debugger_rules_are_added_for_accounts_that_still_have_debugger():
    extra = debugger_members(RULES, RULE_IMAGE, "gp-spot-train", "s3://bucket/out")
    request = spot_request(extra=extra)
    assert request_problems("CreateTrainingJob", request) == []
    stalled = request["DebugRuleConfigurations"][1]["RuleParameters"]
    assert stalled["training_job_name_prefix"] == "gp-spot-train"  # explicit: the SDK's default has a timestamp
    assert request["TrainingJobName"] != spot_request()["TrainingJobName"]
    greenpipe_only = [{"name": "LossNotDecreasing", "evidence_sigmas": 2}]
    sent = debugger_members(greenpipe_only, RULE_IMAGE, "gp", "s3://b/o")["DebugRuleConfigurations"][0]
    assert "evidence_sigmas" not in sent["RuleParameters"] and sent["RuleParameters"]["num_steps"] == "10"
    container_rules = spot_request(params={"target": "y", "rules": greenpipe_only})["HyperParameters"]["rules"]
    assert json.loads(container_rules) == greenpipe_only  # the container's rules get every parameter
    assert debugger_members([{"name": "LowCPUUtilization"}], RULE_IMAGE, "gp", "s3://b/o") == {}  # not Debugger's


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"options": replace(OPTIONS, max_runtime_s=3600, max_wait_s=600)}, "max_wait_s"),
        ({"params": {"target": "y", "rules": ["Nope"]}}, "not a stop-rule"),
        ({"params": {"rules": RULES}}, "param target"),
        ({"inputs": {"train": "s3://bucket/t/"}}, "no input 'train'"),
        ({"checkpoint_s3": None}, "checkpoint_s3="),
        ({"options": replace(OPTIONS, role_arn=None)}, "set role_arn"),
        ({"job_name_prefix": "x" * 60}, "job_name_prefix"),
    ],
)
def test_a_request_that_cannot_run_is_refused_with_the_field_and_the_fix(changes, message):
    with pytest.raises(GreenpipeError, match=message):
        spot_request(**changes)


def test_an_instance_type_sagemaker_does_not_have_fails_botocore_validation():
    options = replace(OPTIONS, instance_types={"spot_train": "m5.large"})
    assert any("InstanceType" in p for p in request_problems("CreateTrainingJob", spot_request(options=options)))


def test_the_standalone_job_trains_when_sagemaker_runs_it(tmp_path):
    """The request run as SageMaker would run it: channels under /opt/ml/input/data, the container's command,
    /opt/ml/model packed into model.tar.gz. The old hand-written request named its channel `train` after the
    step's input was renamed `data`; a request built by the backend cannot drift from the step."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(400, 3)), columns=["a", "b", "c"])
    frame["y"] = (frame["a"] + 0.5 * frame["b"] > 0).astype(int)
    for name, rows in (("train", frame[:300]), ("val", frame[300:])):
        folder = tmp_path / "s3" / "bucket" / "data" / name
        folder.mkdir(parents=True)
        rows.to_parquet(folder / "part.parquet")
    request = spot_request(params={"target": "y", "max_epochs": 3, "isolate": False})
    emulator = SageMakerEmulator(tmp_path, {"Parameters": [], "Steps": []})
    emulator.training({"Name": "spot_train", "Type": "Training", "Arguments": request})
    with open(emulator.output_path("spot_train", "model") / "model.pkl", "rb") as f:
        model = pickle.load(f)
    assert model.score(frame[300:][["a", "b", "c"]], frame[300:]["y"]) > 0.8
    ledger = emulator.ledger("spot_train")
    assert ledger["fingerprint"] == spot_train.fingerprint().digest and ledger["cpu_s"] > 0

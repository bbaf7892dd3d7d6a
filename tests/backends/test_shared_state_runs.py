"""train, then retrain, as separate compiled runs that share nothing but GREENPIPE_SHARED: each run (and, on
SageMaker, each job) has its own empty GREENPIPE_HOME, and retrain's champion step still finds the champion
train registered and the model it names, digest-verified."""

import json
import os
import warnings
from pathlib import Path

import pytest
from sagemaker_emulator import MotoS3, SageMakerEmulator, fresh_venv_with_greenpipe

from greenpipe.digest import digest_path

TRAIN_PARAMS = {"periods": 6, "max_trials": 3, "max_epochs": 5}
RETRAIN_PARAMS = {"period": 6, "max_epochs": 5, "kpi_floor": 0.0}
ROLE = "arn:aws:iam::123456789012:role/greenpipe-sm"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/greenpipe:0.1.0"


def registered_champion(snapshot: dict, name: str = "rainfall") -> tuple[int, str]:
    """(version, model digest) of the champion in a shared snapshot (state/tables.json)."""
    aliases = snapshot["tables"]["registry_aliases"]
    row = dict(zip(aliases["columns"], next(r for r in aliases["rows"] if r[:2] == [name, "champion"]), strict=True))
    versions = snapshot["tables"]["registry_versions"]
    found = [dict(zip(versions["columns"], r, strict=True)) for r in versions["rows"]]
    return row["version"], next(v["model_digest"] for v in found if v["version"] == row["version"])


def rainfall_versions(snapshot: dict) -> list[int]:
    versions = snapshot["tables"]["registry_versions"]
    rows = [dict(zip(versions["columns"], r, strict=True)) for r in versions["rows"]]
    return sorted(r["version"] for r in rows if r["name"] == "rainfall")


def run_under_kfp_local(name: str, params: dict, home: Path, root: Path, shared: Path) -> dict[str, Path]:
    from kfp import local

    from greenpipe.backends.kfp import pipeline_component
    from greenpipe.loader import load_pipeline

    os.environ["GREENPIPE_HOME"] = str(home)  # this run's tasks only: nothing of it is read by the next run
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root), raise_on_error=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "image has no 'python' in its name": we run in-process
        pipeline_component(load_pipeline(name), params, local_conditions=True, shared=str(shared))()
    return {p.parent.name: p.parent for p in root.glob("*/*/executor_output.json")}


@pytest.mark.slow
def test_train_then_retrain_under_kfp_local_share_only_the_shared_folder(tmp_path, monkeypatch):
    pytest.importorskip("kfp.local")
    monkeypatch.setenv("GREENPIPE_HOME", str(tmp_path / "unused"))  # restored after the test
    shared = tmp_path / "shared"
    train = run_under_kfp_local("train", TRAIN_PARAMS, tmp_path / "home-train", tmp_path / "root-train", shared)
    assert json.loads((train["register"] / "executor_output.json").read_text())["parameterValues"]["promoted"]
    version, model_digest = registered_champion(json.loads((shared / "state" / "tables.json").read_text()))
    assert version == 1 and model_digest == digest_path(train["spot-train"] / "model")

    retrain = run_under_kfp_local(
        "retrain", RETRAIN_PARAMS, tmp_path / "home-retrain", tmp_path / "root-retrain", shared
    )
    champion = json.loads((retrain["champion"] / "executor_output.json").read_text())["parameterValues"]
    assert champion == {"version": 1}
    assert digest_path(retrain["champion"] / "model") == model_digest  # fetched from shared/objects, verified


@pytest.mark.slow
def test_train_then_retrain_as_sagemaker_jobs_on_moto_share_only_the_bucket(aws, tmp_path):
    """Every job of train, then every job of retrain (its Condition step reading drift_gate's property file), run
    one by one by the entry point in a fresh virtualenv with greenpipe from a wheel, each with its own empty
    GREENPIPE_HOME, reading and writing the moto S3 server; the definitions carry GREENPIPE_SHARED =
    s3://<bucket>/greenpipe/shared by default."""
    import boto3

    from greenpipe.backends.sagemaker import compile_definition
    from greenpipe.loader import load_pipeline

    def definition(name: str, params: dict) -> dict:
        text = compile_definition(load_pipeline(name), params, role_arn=ROLE, image=IMAGE, bucket="gp-artifacts")
        return json.loads(text)

    python = fresh_venv_with_greenpipe(tmp_path)
    train = SageMakerEmulator(
        tmp_path / "train", definition("train", TRAIN_PARAMS), s3=MotoS3(), env=aws, python=python
    )
    train.run()
    state = boto3.client("s3").get_object(Bucket="gp-artifacts", Key="greenpipe/shared/state/tables.json")
    snapshot = json.loads(state["Body"].read())
    version, model_digest = registered_champion(snapshot)
    assert version == 1
    trained = rainfall_versions(snapshot)  # register's, then register_compressed's

    retrain = SageMakerEmulator(
        tmp_path / "retrain",
        definition("retrain", {**RETRAIN_PARAMS, "drift_share": 0.1}),
        s3=MotoS3(),
        env=aws,
        python=python,
    )
    retrain.run()  # its Condition step read from drift_gate's property file, as SageMaker does
    values = retrain.properties["Steps.champion.ProcessingOutputConfig.Outputs['greenpipe'].S3Output.S3Uri"]
    bucket, _, prefix = values[len("s3://") :].partition("/")
    got = boto3.client("s3").get_object(Bucket=bucket, Key=f"{prefix}/values.json")["Body"].read()
    assert json.loads(got) == {"version": 1}
    assert digest_path(retrain.output_path("champion", "model")) == model_digest
    assert retrain.operand(
        {"Std:JsonGet": {"Path": "retrain", "PropertyFile": {"Get": "Steps.drift_gate.PropertyFiles.values"}}}
    )
    # retrain's register job (its own empty store) compared with the champion it fetched and added a version to
    # the shared registry: the second writer kept the first one's rows
    state = boto3.client("s3").get_object(Bucket="gp-artifacts", Key="greenpipe/shared/state/tables.json")
    assert rainfall_versions(json.loads(state["Body"].read())) == [*trained, max(trained) + 1]

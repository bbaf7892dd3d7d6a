"""SageMaker Pipelines backend: definitions validated against botocore's model, deterministic, deployed under moto."""

import json
import os
from typing import NamedTuple

import pytest

from greenpipe import Artifact, Dataset, Metrics, Model, Output, Resources, pipeline, step, when
from greenpipe.backends.sagemaker import compile_definition, deploy, expire_after, step_template
from greenpipe.backends.sagemaker_iam import iam_policy
from greenpipe.backends.sagemaker_jobs import SageMakerOptions
from greenpipe.backends.sagemaker_validate import validate_definition
from greenpipe.components.bayes_tune import bayes_tune
from greenpipe.components.bayes_tune.estimators import family
from greenpipe.components.bayes_tune.trial import bayes_tune_trial
from greenpipe.errors import CompileError
from greenpipe.pipeline import Graph, PipelineParam, ValueRef
from greenpipe.pipelines.retrain import retrain
from greenpipe.pipelines.train import train

ROLE = "arn:aws:iam::123456789012:role/greenpipe-sm"
KMS = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


class Decision(NamedTuple):
    retrain: bool
    score: float


@step(description="Write some rows")
def prepare(rows_out: Output[Dataset], rows: int = 50) -> None:
    with open(rows_out.path, "w") as handle:
        json.dump(list(range(rows)), handle)


@step(description="Decide whether to retrain")
def gate(data: Dataset, threshold: float = 0.5) -> Decision:
    return Decision(True, threshold)


@step(description="Fit on spot", resources=Resources(cpu=4, memory_gb=8, spot=True), runtime="training")
def spot_fit(data: Dataset, model: Output[Model], epochs: int = 3) -> Decision:
    with open(model.path, "w") as handle:
        handle.write(str(epochs))
    return Decision(False, 0.0)


@step(description="Tune", runtime="tuning")
def tune(
    data: Dataset,
    model: Output[Model],
    metrics: Output[Metrics],
    lr: float = 0.1,
    depth: int = 3,
    search_space: dict = {"lr": {"low": 0.001, "high": 0.3, "log": True}, "depth": {"low": 2, "high": 8}},  # noqa: B006
    objective: str = "accuracy",
    n_trials: int = 6,
) -> None:
    metrics.log_metric("accuracy", 0.5)
    with open(model.path, "w") as handle:
        handle.write(f"{lr} {depth}")


@step(description="Score the tuned model")
def score(model: Model, metrics: Output[Metrics]) -> None:
    metrics.log_metric("size", os.path.getsize(model.path))


@pipeline
def gated(threshold: float = 0.5, epochs: int = 3) -> None:
    data = prepare()
    decision = gate(data=data.rows_out, threshold=threshold)
    with when(decision.retrain):
        spot_fit(data=data.rows_out, epochs=epochs)
        tuned = tune(data=data.rows_out)
    score(model=tuned.model)


@pipeline
def processing_only() -> None:
    data = prepare()
    gate(data=data.rows_out)


@pipeline
def bad_value() -> None:
    data = prepare()
    decision = gate(data=data.rows_out)
    with when(ValueRef(decision, "drifted", bool)):
        score(model=data.rows_out)


@pipeline
def gated_on_training() -> None:
    data = prepare()
    fit = spot_fit(data=data.rows_out)
    with when(fit.retrain):
        gate(data=data.rows_out)


def steps_by_name(definition: dict) -> dict[str, dict]:
    out = {}
    for item in definition["Steps"]:
        out[item["Name"]] = item
        for inner in item["Arguments"].get("IfSteps", []):
            out[inner["Name"]] = inner
    return out


def test_retrain_compiles_to_the_same_bytes_and_validates():
    first = compile_definition(retrain, role_arn=ROLE, bucket="my-bucket")
    second = compile_definition(retrain, role_arn=ROLE, bucket="my-bucket")
    assert first == second
    definition = json.loads(first)
    assert definition["Version"] == "2020-12-01"
    assert [p["Name"] for p in definition["Parameters"]] == [
        "period",
        "window",
        "model_name",
        "drift_share",
        "kpi_floor",
        "retrain_on_bad_data",
        "max_epochs",
        "seed",
    ]
    steps = steps_by_name(definition)
    assert steps["spot_train"]["Type"] == "Training"
    for name, item in steps.items():
        if item["Type"] == "Condition":
            continue
        # champion and register read registry state, so their CachePolicy turns caching off
        expected = {"Enabled": False} if name in ("champion", "register") else {"Enabled": True, "ExpireAfter": "P30D"}
        assert item["CacheConfig"] == expected, name
        args = item["Arguments"]
        assert args["Environment"]["GREENPIPE_FINGERPRINT"].startswith("fp:")
        if item["Type"] == "Processing":
            assert args["AppSpecification"]["ContainerEntrypoint"] == ["python", "-m", "greenpipe.run"]
            assert args["AppSpecification"]["ContainerArguments"][:2] == [
                args["Environment"]["GREENPIPE_STEP"],
                "--sagemaker=processing",
            ]
    evaluate = steps["evaluate_classifier"]["Arguments"]
    sources = {i["InputName"]: i["S3Input"]["S3Uri"] for i in evaluate["ProcessingInputs"]}
    assert sources["model"] == {"Get": "Steps.spot_train.ModelArtifacts.S3ModelArtifacts"}
    assert "2026" not in first and "2025" not in first  # no timestamps baked in


def test_reference_train_pipeline_compiles_its_run_time_tuning_as_one_training_job():
    # train's bayes_tune takes its estimator from small_sample's choice when it runs: the tuning ranges are not
    # known at compile time, so the whole Bayesian search runs inside one Training job, with a warning saying so
    with pytest.warns(UserWarning, match="step bayes_tune: estimator=''.*one SageMaker Training job"):
        text = compile_definition(train, role_arn=ROLE, bucket="my-bucket")
    steps = {s["Name"]: s for s in json.loads(text)["Steps"]}
    assert steps["bayes_tune"]["Type"] == "Training"
    assert steps["spot_train"]["Type"] == "Training"
    assert steps["spot_train"]["Arguments"]["EnableManagedSpotTraining"] is True


def test_editing_a_helper_changes_only_the_step_that_reaches_it(tmp_path, monkeypatch):
    import importlib
    import sys

    source = """
from greenpipe import Dataset, Output, pipeline, step

def helper(x):
    return x + 1

@step
def first(out: Output[Dataset]) -> None:
    open(out.path, "w").write("1")

@step
def second(data: Dataset, out: Output[Dataset]) -> None:
    open(out.path, "w").write(str(helper(1)))

@pipeline
def two() -> None:
    a = first()
    second(data=a.out)
"""
    module = tmp_path / "gp_sm_edit.py"
    module.write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    before = json.loads(compile_definition(importlib.import_module("gp_sm_edit").two, role_arn=ROLE, bucket="b"))
    module.write_text(source.replace("x + 1", "x + 2"))
    del sys.modules["gp_sm_edit"]
    after = json.loads(compile_definition(importlib.import_module("gp_sm_edit").two, role_arn=ROLE, bucket="b"))
    fp = {n: s["Arguments"]["Environment"]["GREENPIPE_FINGERPRINT"] for n, s in steps_by_name(before).items()}
    fp2 = {n: s["Arguments"]["Environment"]["GREENPIPE_FINGERPRINT"] for n, s in steps_by_name(after).items()}
    assert fp["first"] == fp2["first"]
    assert fp["second"] != fp2["second"]


def test_when_spot_training_and_tuning_compile_to_condition_training_and_tuning_steps():
    definition = json.loads(compile_definition(gated, role_arn=ROLE, bucket="my-bucket"))
    top = [s["Name"] for s in definition["Steps"]]
    assert top[:2] == ["prepare", "gate"]
    condition = definition["Steps"][2]
    assert condition["Type"] == "Condition"
    assert condition["Arguments"]["Conditions"] == [
        {
            "Type": "Equals",
            "RightValue": True,
            "LeftValue": {
                "Std:JsonGet": {"PropertyFile": {"Get": "Steps.gate.PropertyFiles.values"}, "Path": "retrain"}
            },
        }
    ]
    # score depends on the gated tune step, so it is gated too (locally it would be skipped as well)
    assert [s["Name"] for s in condition["Arguments"]["IfSteps"]] == ["spot_fit", "tune", "score"]
    steps = steps_by_name(definition)
    assert steps["gate"]["PropertyFiles"] == [
        {"PropertyFileName": "values", "OutputName": "greenpipe", "FilePath": "values.json"}
    ]
    fit = steps["spot_fit"]
    assert fit["Type"] == "Training"
    args = fit["Arguments"]
    assert args["EnableManagedSpotTraining"] is True
    assert args["StoppingCondition"]["MaxWaitTimeInSeconds"] >= args["StoppingCondition"]["MaxRuntimeInSeconds"]
    assert args["CheckpointConfig"]["LocalPath"] == "/opt/ml/checkpoints"
    assert args["ResourceConfig"]["InstanceType"] == "ml.m5.xlarge"  # 4 vCPU, 16 GiB fits cpu=4, memory_gb=8
    assert args["HyperParameters"]["epochs"] == {"Std:Join": {"On": "", "Values": [{"Get": "Parameters.epochs"}]}}
    tuning = steps["tune"]["Arguments"]["HyperParameterTuningJobConfig"]
    assert tuning["Strategy"] == "Bayesian"
    assert tuning["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 6, "MaxParallelTrainingJobs": 1}
    assert tuning["TrainingJobEarlyStoppingType"] == "Auto"
    assert tuning["ParameterRanges"]["ContinuousParameterRanges"][0]["ScalingType"] == "Logarithmic"
    static = steps["tune"]["Arguments"]["TrainingJobDefinition"]["StaticHyperParameters"]
    assert "lr" not in static and "depth" not in static and static["greenpipe_fingerprint"].startswith("fp:")
    metric = steps["tune"]["Arguments"]["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"]
    assert metric == [{"Name": "accuracy", "Regex": "greenpipe-metric accuracy=([-+0-9.eE]+|nan|inf)"}]
    model_uri = steps["score"]["Arguments"]["ProcessingInputs"][0]["S3Input"]["S3Uri"]
    assert {"Get": "Steps.tune.BestTrainingJob.TrainingJobName"} in model_uri["Std:Join"]["Values"]
    assert "--archive-member" in steps["score"]["Arguments"]["AppSpecification"]["ContainerArguments"]


def test_validation_catches_what_botocore_alone_accepts():
    definition = json.loads(compile_definition(gated, role_arn=ROLE, bucket="my-bucket"))
    tune_step = steps_by_name(definition)["tune"]
    tune_step["Arguments"]["HyperParameterTuningJobConfig"]["Strategy"] = "bayesian"
    with pytest.raises(CompileError, match="bayesian.*not one of"):
        validate_definition(definition)
    with pytest.raises(CompileError, match="RoleArn.*does not match"):
        compile_definition(retrain, role_arn="my-role", bucket="b")
    with pytest.raises(CompileError, match="InstanceType.*not one of"):
        compile_definition(retrain, role_arn=ROLE, bucket="b", instance_types={"champion": "ml.m5.huge"})
    with pytest.raises(CompileError, match="S3Uri.*more than 1024"):  # a Join is checked with its literal parts
        compile_definition(retrain, role_arn=ROLE, bucket="b", prefix="x" * 1100)


def test_constructs_sagemaker_cannot_express_name_the_step():
    with pytest.raises(CompileError, match="step score: .*'drifted'.*gate does not write"):
        compile_definition(bad_value, role_arn=ROLE, bucket="b")
    with pytest.raises(CompileError, match="step spot_fit: .*Training job.*property file"):
        compile_definition(gated_on_training, role_arn=ROLE, bucket="b")
    with pytest.raises(CompileError, match="whole number of minutes"):
        expire_after("PT90S", "fit")
    assert expire_after("30d") == "P30D"
    assert expire_after("PT36H") == "P1DT12H"
    with pytest.raises(CompileError, match="fits no single SageMaker instance"):

        @pipeline
        def huge() -> None:
            big()

        @step(resources=Resources(cpu=500, memory_gb=4))
        def big(out: Output[Dataset]) -> None: ...

        compile_definition(huge, role_arn=ROLE, bucket="b")


def test_security_options_reach_every_job_and_are_validated():
    text = compile_definition(
        gated,
        role_arn=ROLE,
        bucket="b",
        volume_kms_key=KMS,
        output_kms_key=KMS,
        subnets=["subnet-0abc"],
        security_group_ids=["sg-0abc"],
        network_isolation=True,
        inter_container_encryption=True,
    )
    steps = steps_by_name(json.loads(text))
    gate_args = steps["gate"]["Arguments"]
    assert gate_args["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == KMS
    assert gate_args["ProcessingOutputConfig"]["KmsKeyId"] == KMS
    assert gate_args["NetworkConfig"] == {
        "EnableInterContainerTrafficEncryption": True,
        "EnableNetworkIsolation": True,
        "VpcConfig": {"SecurityGroupIds": ["sg-0abc"], "Subnets": ["subnet-0abc"]},
    }
    fit = steps["spot_fit"]["Arguments"]
    assert fit["EnableNetworkIsolation"] and fit["EnableInterContainerTrafficEncryption"]
    assert fit["VpcConfig"]["Subnets"] == ["subnet-0abc"] and fit["OutputDataConfig"]["KmsKeyId"] == KMS
    definition = steps["tune"]["Arguments"]["TrainingJobDefinition"]
    assert definition["ResourceConfig"]["VolumeKmsKeyId"] == KMS
    with pytest.raises(CompileError, match="needs both subnets and security_group_ids"):
        compile_definition(retrain, role_arn=ROLE, bucket="b", subnets=["subnet-0abc"])
    with pytest.raises(CompileError, match="SubnetId|Subnets"):
        compile_definition(retrain, role_arn=ROLE, bucket="b", subnets=["subnet 0abc!"], security_group_ids=["sg-1"])


def test_iam_policy_grants_only_the_job_kinds_the_pipeline_uses():
    policy = iam_policy(processing_only, role_arn=ROLE, bucket="my-bucket")
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert "sagemaker:CreateProcessingJob" in actions
    assert not {"sagemaker:CreateTrainingJob", "sagemaker:CreateHyperParameterTuningJob"} & actions
    assert not any(a.startswith("kms:") or a.startswith("ec2:") for a in actions)
    passrole = next(s for s in policy["Statement"] if s["Action"] == ["iam:PassRole"])
    assert passrole["Resource"] == [ROLE]
    objects = next(s for s in policy["Statement"] if s["Sid"] == "ArtifactObjects")
    assert objects["Resource"] == ["arn:aws:s3:::my-bucket/greenpipe/*"]
    assert all("*" not in a for a in actions)
    full = iam_policy(gated, role_arn=ROLE, bucket="my-bucket", kms_key_arns=[KMS], vpc=True)
    actions = {a for s in full["Statement"] for a in s["Action"]}
    assert {
        "sagemaker:CreateTrainingJob",
        "sagemaker:CreateHyperParameterTuningJob",
        "kms:Decrypt",
        "ec2:CreateNetworkInterface",
    } <= actions
    assert next(s for s in full["Statement"] if s["Sid"] == "EncryptionKeys")["Resource"] == [KMS]


def test_dataset_parameter_gets_a_content_addressed_uri_and_digest(tmp_path):
    @pipeline
    def scored(src: Dataset) -> None:
        gate(data=src)

    data = tmp_path / "rows.json"
    data.write_text("[1, 2, 3]")
    definition = json.loads(compile_definition(scored, {"src": str(data)}, role_arn=ROLE, bucket="b"))
    params = {p["Name"]: p for p in definition["Parameters"]}
    from greenpipe.digest import digest_path

    digest = digest_path(data)
    assert params["src"]["DefaultValue"] == f"s3://b/greenpipe/objects/{digest.split(':')[1]}/rows.json"
    assert params["src_digest"]["DefaultValue"] == digest
    arguments = definition["Steps"][0]["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert {"Std:Join": {"On": "", "Values": ["data=", {"Get": "Parameters.src_digest"}]}} in arguments
    without_role = json.loads(compile_definition(scored, {"src": "s3://b/x.json"}, bucket="b"))
    assert {"Name": "RoleArn", "Type": "String"} in without_role["Parameters"]


def test_step_template_is_a_validated_job_step():
    template = step_template(gate)
    assert template["operation"] == "CreateProcessingJob"
    assert template["step"]["PropertyFiles"][0]["PropertyFileName"] == "values"
    assert template["parameters"] == ["data", "data_digest", "RoleArn", "ArtifactBucket"]
    assert step_template(spot_fit)["operation"] == "CreateTrainingJob"
    assert step_template(tune)["step"]["Type"] == "Tuning"


def test_deploy_creates_updates_and_starts_under_moto(monkeypatch):
    pytest.importorskip("moto")
    import boto3
    from moto import mock_aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    first = compile_definition(retrain, role_arn=ROLE, bucket="b")
    second = compile_definition(retrain, {"window": 4}, role_arn=ROLE, bucket="b")
    with mock_aws():
        client = boto3.client("sagemaker", region_name="us-east-1")
        created = deploy(first, "retrain", ROLE, client=client)
        assert created["action"] == "created"
        updated = deploy(second, "retrain", ROLE, start=True, client=client)
        assert updated["action"] == "updated" and "execution_arn" in updated
        described = client.describe_pipeline(PipelineName="retrain")
        assert json.loads(described["PipelineDefinition"]) == json.loads(second)
        execution = client.describe_pipeline_execution(PipelineExecutionArn=updated["execution_arn"])
        assert execution["PipelineArn"] == created["pipeline_arn"]


def test_deploy_refuses_an_invalid_pipeline_name():
    with pytest.raises(CompileError, match="PipelineName"):
        deploy(compile_definition(retrain, role_arn=ROLE, bucket="b"), "no spaces allowed", ROLE, client=object())


@pytest.mark.sagemaker
def test_sdk_step_matches_our_request(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    pytest.importorskip("sagemaker.mlops.workflow.pipeline")
    import boto3
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.mlops.workflow.pipeline import Pipeline as SdkPipeline

    from greenpipe.backends.sagemaker_sdk import to_sdk_step
    from greenpipe.pipelines.rainfall import evaluate_classifier

    session = PipelineSession(boto_session=boto3.Session(region_name="us-east-1"), default_bucket="b")
    sdk_step = to_sdk_step(
        evaluate_classifier,
        inputs={"model": "s3://b/model", "test": "s3://b/test.parquet"},
        role=ROLE,
        bucket="b",
        sagemaker_session=session,
    )
    theirs = json.loads(SdkPipeline(name="p", steps=[sdk_step], sagemaker_session=session).definition())["Steps"][0]
    ours = steps_by_name(json.loads(compile_definition(retrain, role_arn=ROLE, bucket="b")))["evaluate_classifier"]
    assert theirs["Type"] == "Processing" and theirs["CacheConfig"] == ours["CacheConfig"]
    for item in ours["Arguments"]["ProcessingOutputConfig"]["Outputs"]:
        item.pop("AppManaged")  # False is the API default; the SDK leaves it out
    for key in ("Environment", "ProcessingOutputConfig", "ProcessingResources", "RoleArn", "StoppingCondition"):
        assert theirs["Arguments"][key] == ours["Arguments"][key], key
    app, our_app = theirs["Arguments"]["AppSpecification"], ours["Arguments"]["AppSpecification"]
    assert app["ImageUri"] == our_app["ImageUri"] and app["ContainerEntrypoint"] == our_app["ContainerEntrypoint"]
    # ours passes the pipeline's parameters; the SDK step, built alone, the step's defaults
    assert app["ContainerArguments"] == our_app["ContainerArguments"][:2]
    validate_definition({"Version": "2020-12-01", "Parameters": [], "Steps": [theirs]})


# Params a step needs before SageMaker can compile it (its defaults defer a choice to run time that a
# SageMaker definition has to fix); the step's CompileError says so, and these give the fix it names.
COMPILE_PARAMS = {"bayes_tune": {"estimator": "hist_gradient_boosting"}}


def test_every_component_step_compiles_to_a_validated_job_step():
    import importlib
    import pkgutil

    import greenpipe.components as components
    from greenpipe.backends.sagemaker import job_step
    from greenpipe.backends.sagemaker_jobs import SageMakerOptions, input_source
    from greenpipe.pipeline import Graph, PipelineParam
    from greenpipe.step import artifact_class

    seen = 0
    for info in pkgutil.iter_modules(components.__path__):
        module = importlib.import_module(f"greenpipe.components.{info.name}")
        for component_step in getattr(module, "STEPS", []):
            spec = component_step.spec
            if spec.name in COMPILE_PARAMS:  # without them its tuning runs inside one Training job, said so
                with pytest.warns(UserWarning, match=f"step {spec.name}: .*pass .*one SageMaker Training job"):
                    assert step_template(component_step, role_arn=ROLE, bucket="b")["step"]["Type"] == "Training"
            graph = Graph(spec.name)
            inputs = {i.name: PipelineParam(i.name, artifact_class(i.kind)) for i in spec.inputs}
            required = {p.name: PipelineParam(p.name, p.type) for p in spec.params if p.required}
            task = graph.add_task(component_step, {**inputs, **required, **COMPILE_PARAMS.get(spec.name, {})})
            options = SageMakerOptions(role_arn=ROLE, image="greenpipe:test", bucket="b")
            sources = {n: input_source(task, n, ref, {}, options) for n, ref in task.inputs.items()}
            item = job_step(task, sources, options)
            names = sorted(inputs) + [f"{n}_digest" for n in sorted(inputs)] + sorted(required)
            params = [{"Name": n, "Type": "String"} for n in names]
            validate_definition({"Version": "2020-12-01", "Parameters": params, "Steps": [item]})
            seen += 1
    if not seen:
        pytest.skip("no component lists STEPS yet")


# -- bayes_tune: a tuning step whose search space ranges over an estimator's hyperparameters ------------------


@step(description="Read tuned params")
def read_params(params: Artifact, out: Output[Dataset]) -> None:
    with open(params.path) as src, open(out.path, "w") as dst:
        dst.write(src.read())


@pipeline(name="tune_hgb")
def tune_hgb(data: Dataset) -> None:
    tuned = bayes_tune(
        data=data,
        target="target",
        estimator="hist_gradient_boosting",
        max_trials=9,
        max_parallel=2,
        warm_start_from="rain-tune-0a1b2c3d",
    )
    read_params(params=tuned.best_params)


def test_bayes_tune_compiles_to_a_bayesian_tuning_job_over_the_estimators_default_space():
    first = compile_definition(tune_hgb, role_arn=ROLE, bucket="b")
    assert first == compile_definition(tune_hgb, role_arn=ROLE, bucket="b")  # same bytes
    steps = steps_by_name(json.loads(first))
    assert steps["bayes_tune"]["Type"] == "Tuning"
    args = steps["bayes_tune"]["Arguments"]
    config = args["HyperParameterTuningJobConfig"]
    assert config["Strategy"] == "Bayesian" and config["TrainingJobEarlyStoppingType"] == "Auto"
    assert config["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 9, "MaxParallelTrainingJobs": 2}
    assert config["HyperParameterTuningJobObjective"] == {"Type": "Maximize", "MetricName": "accuracy"}
    ranges = {
        r["Name"]: (r["MinValue"], r["MaxValue"], r["ScalingType"])
        for kind in ("IntegerParameterRanges", "ContinuousParameterRanges")
        for r in config["ParameterRanges"][kind]
    }
    # estimators.py's default space for hist_gradient_boosting, every range log-scaled
    assert ranges == {
        "learning_rate": ("0.01", "0.5", "Logarithmic"),
        "max_leaf_nodes": ("4", "128", "Logarithmic"),
        "min_samples_leaf": ("2", "128", "Logarithmic"),
        "l2_regularization": ("1e-06", "10.0", "Logarithmic"),
    }
    assert set(ranges) == set(family("hist_gradient_boosting").default_space)
    assert [r["Name"] for r in config["ParameterRanges"]["IntegerParameterRanges"]] == [
        "max_leaf_nodes",
        "min_samples_leaf",
    ]
    assert args["WarmStartConfig"] == {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "rain-tune-0a1b2c3d"}],
        "WarmStartType": "TransferLearning",  # warm_start_type="auto" cannot compare data when compiling
    }
    definition = args["TrainingJobDefinition"]
    assert definition["Environment"]["GREENPIPE_STEP"] == bayes_tune_trial.spec.ref  # what `train` runs
    assert definition["Environment"]["GREENPIPE_FINGERPRINT"] == bayes_tune_trial.fingerprint().digest
    static = definition["StaticHyperParameters"]
    assert static["estimator"] == "hist_gradient_boosting" and static["target"] == "target"
    assert static["greenpipe_fingerprint"] == bayes_tune.fingerprint().digest
    assert not {"max_trials", "sampler", "learning_rate"} & set(static)  # the search's, or tuned per job
    assert definition["AlgorithmSpecification"]["MetricDefinitions"] == [
        {"Name": "accuracy", "Regex": "greenpipe-metric accuracy=([-+0-9.eE]+|nan|inf)"}
    ]
    assert [c["ChannelName"] for c in definition["InputDataConfig"]] == ["data"]
    # the downstream step reads best_params from the best training job's model.tar.gz
    reader = steps["read_params"]["Arguments"]
    uri = reader["ProcessingInputs"][0]["S3Input"]["S3Uri"]
    assert {"Get": "Steps.bayes_tune.BestTrainingJob.TrainingJobName"} in uri["Std:Join"]["Values"]
    assert reader["AppSpecification"]["ContainerArguments"][-2:] == ["--archive-member", "params=best_params"]


def test_bayes_tune_search_space_keeps_its_scaling_types():
    space = {
        "learning_rate": {"type": "float", "low": 0.01, "high": 0.5, "scaling": "Linear"},
        "l2_regularization": {"type": "float", "low": 0.5, "high": 0.99, "scaling": "ReverseLogarithmic"},
        "max_leaf_nodes": {"type": "int", "low": 4, "high": 128, "scaling": "Auto"},
        "loss": {"values": ["log_loss"]},
    }

    @pipeline(name="tune_space")
    def tune_space(data: Dataset) -> None:
        bayes_tune(data=data, target="y", estimator="hist_gradient_boosting", search_space=space, metric="log_loss")

    args = steps_by_name(json.loads(compile_definition(tune_space, role_arn=ROLE, bucket="b")))["bayes_tune"]
    config = args["Arguments"]["HyperParameterTuningJobConfig"]
    ranges = config["ParameterRanges"]
    assert [(r["Name"], r["ScalingType"]) for r in ranges["ContinuousParameterRanges"]] == [
        ("learning_rate", "Linear"),
        ("l2_regularization", "ReverseLogarithmic"),
    ]
    assert ranges["IntegerParameterRanges"] == [
        {"Name": "max_leaf_nodes", "MinValue": "4", "MaxValue": "128", "ScalingType": "Auto"}
    ]
    assert ranges["CategoricalParameterRanges"] == [{"Name": "loss", "Values": ["log_loss"]}]
    assert config["HyperParameterTuningJobObjective"] == {"Type": "Minimize", "MetricName": "log_loss"}
    assert json.loads(args["Arguments"]["TrainingJobDefinition"]["StaticHyperParameters"]["search_space"]) == space


def test_bayes_tune_whose_estimator_is_chosen_at_run_time_is_not_a_tuning_job():
    from greenpipe.backends.sagemaker_tuning import tuning_arguments

    graph = Graph("g")
    task = graph.add_task(bayes_tune, {"data": PipelineParam("data", Dataset), "target": "y"})
    with pytest.raises(CompileError) as info:
        tuning_arguments(task, {}, SageMakerOptions(role_arn=ROLE, image="img", bucket="b"))
    message = str(info.value)
    assert message.startswith("step bayes_tune: estimator=''")
    assert "pass estimator=NAME: SageMaker tuning ranges are fixed when the pipeline is compiled" in message
    with pytest.warns(UserWarning, match="one SageMaker Training job"):
        assert step_template(bayes_tune)["step"]["Type"] == "Training"

    @pipeline(name="tune_param")
    def tune_param(data: Dataset, estimator: str = "svc") -> None:
        bayes_tune(data=data, target="y", estimator=estimator)

    with pytest.raises(CompileError, match="step bayes_tune: param estimator comes from pipeline parameter"):
        compile_definition(tune_param, role_arn=ROLE, bucket="b")

    @pipeline(name="tune_bad")
    def tune_bad(data: Dataset) -> None:
        bayes_tune(data=data, target="y", estimator="svc", search_space={"depth": {"type": "int", "low": 1, "high": 9}})

    with pytest.raises(CompileError, match="step bayes_tune: search_space names \\['depth'\\] are not"):
        compile_definition(tune_bad, role_arn=ROLE, bucket="b")

"""serve: the choice follows the traffic profile and the latency objective, every alternative carries its
instance-hours and CO2e, the SageMaker requests validate against botocore's model, and the local batch
transform really scores a dataset in chunks. Real sklearn, Runner and store; botocore's real service model."""

import json
import pickle
from pathlib import Path

import pytest

from greenpipe import Dataset, Model, Output, pipeline, step
from greenpipe.components.serve import decision as dec
from greenpipe.components.serve import serve
from greenpipe.components.serve.errors import ServeError
from greenpipe.components.serve.instances import INSTANCES, smallest_for
from greenpipe.components.serve.sagemaker_request import endpoint_config, requests_for, transform_job, validate
from greenpipe.components.serve.traffic import parse
from greenpipe.runner import Runner
from greenpipe.store import Store

TARGET = "label"
FAST = dec.MeasuredModel(p50_ms_b1=0.2, p99_ms_b1=0.5, p50_ms_b1000=2.0, memory_mb=20, source="test")
OFFICE = [0.0] * 9 + [300.0] * 8 + [0.0] * 7
STEADY = {"requests_per_hour": 200_000}
NIGHTLY = {"batch_rows": 1_000_000, "every": "P1D"}


def choice(traffic, objective_ms, model=FAST):
    profile = parse(traffic)
    options = dec.options(profile, model, smallest_for(model.memory_mb), objective_ms, dec.Assumptions())
    return dec.choose(options), options, profile


def test_nightly_batch_is_a_batch_transform_for_a_fraction_of_the_always_on_hours():
    chosen, options, profile = choice(NIGHTLY, 1000.0)
    assert chosen.mode == "batch_transform"
    assert chosen.instance_hours < 0.1 * profile.hours_per_month
    assert {o.mode for o in options} == set(dec.MODES)
    assert not next(o for o in options if o.mode == "serverless").feasible


def test_office_hours_go_serverless_when_a_cold_start_is_acceptable_and_real_time_when_not():
    tolerant, _, _ = choice({"requests_per_hour": OFFICE, "days_per_month": 22}, 10_000.0)
    assert tolerant.mode == "serverless" and tolerant.config["memory_mb"] == 1024
    strict, options, profile = choice({"requests_per_hour": OFFICE, "days_per_month": 22}, 200.0)
    assert strict.mode == "real_time" and strict.instance_hours == 720  # one instance, every hour of the month
    serverless = next(o for o in options if o.mode == "serverless")
    assert not serverless.feasible and "cold start" in serverless.reason


def test_steady_heavy_traffic_needs_real_time_instances_sized_from_the_measured_latency():
    slow = dec.MeasuredModel(p50_ms_b1=20.0, p99_ms_b1=40.0, p50_ms_b1000=500.0, memory_mb=50, source="test")
    chosen, _, profile = choice(STEADY, 100.0, slow)
    busy_s_per_hour = 200_000 * 0.020
    per_instance = 3600 * smallest_for(50).vcpus * dec.Assumptions().target_utilisation
    assert chosen.mode == "real_time" and chosen.instances == -(-busy_s_per_hour // per_instance)
    assert chosen.instance_hours == pytest.approx(profile.hours_per_month * chosen.instances)


def test_no_mode_meeting_the_objective_is_an_error_naming_the_objective():
    slow = dec.MeasuredModel(p50_ms_b1=200.0, p99_ms_b1=900.0, p50_ms_b1000=5e4, memory_mb=50, source="test")
    with pytest.raises(ServeError, match="latency_objective_ms"):
        choice(STEADY, 100.0, slow)


@pytest.mark.parametrize(
    "traffic, field",
    [
        ({"requests_per_hour": [1, 2]}, "requests_per_hour"),
        ({"batch_rows": 10}, "traffic.every"),
        ({"batch_rows": 10, "every": "PT5M"}, "traffic.every"),
        ({"requests_per_hour": 5, "batch_rows": 10}, "exactly one"),
        ({"requests_per_hour": 5, "days_per_month": 40}, "days_per_month"),
        ({"rps": 5}, "unknown keys"),
    ],
)
def test_bad_profiles_name_the_field(traffic, field):
    with pytest.raises(Exception, match=field):
        parse(traffic)


def test_every_instance_in_the_table_is_a_sagemaker_endpoint_and_transform_instance_type():
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    for shape in ("ProductionVariantInstanceType", "TransformInstanceType"):
        enum = set(model.shape_for(shape).enum)
        assert {i.name for i in INSTANCES} <= enum


@pytest.mark.parametrize(
    "traffic, objective",
    [(NIGHTLY, 1000.0), ({"requests_per_hour": OFFICE}, 1e4), ({"requests_per_hour": OFFICE}, 100.0), (STEADY, 7.2e6)],
)
def test_requests_for_each_choice_validate_against_botocore(traffic, objective):
    chosen, _, _ = choice(traffic, objective)
    where = {
        "prefix": "rain",
        "image_uri": "",
        "role_arn": "",
        "model_s3": "s3://b/m.tar.gz",
        "input_s3": "s3://b/in/",
        "output_s3": "s3://b/out/",
        "form": "onnx",
    }
    out = requests_for(chosen, **where)
    assert "CreateModel" in out
    if chosen.mode == "batch_transform":
        assert (
            out["TransformStep"]["Type"] == "Transform" and "TransformJobName" not in out["TransformStep"]["Arguments"]
        )
    else:
        variant = out["CreateEndpointConfig"]["ProductionVariants"][0]
        assert ("ServerlessConfig" in variant) == (chosen.mode == "serverless")
        assert ("AsyncInferenceConfig" in out["CreateEndpointConfig"]) == (chosen.mode == "async")
    again = requests_for(chosen, **where)
    assert json.dumps(again, sort_keys=True) == json.dumps(out, sort_keys=True)  # deterministic names


def test_validation_catches_what_botocore_alone_accepts():
    bad = transform_job(
        prefix="x", model_name="m", input_s3="s3://b/in", output_s3="s3://b/o", instance_type="ml.c5.large"
    )
    with pytest.raises(ServeError, match="InstanceType"):
        validate("CreateTransformJob", bad)
    option = dec.Option("serverless", True, "", config={"memory_mb": 1000, "max_concurrency": 500})
    with pytest.raises(ServeError, match="MemorySizeInMB: 1000 is less than 1024") as raised:
        validate("CreateEndpointConfig", endpoint_config(prefix="x", model_name="m", option=option, async_output_s3=""))
    assert "MaxConcurrency: 500 is more than 200" in str(raised.value)


@step(description="Synthetic rows, a logistic model folder on arrays")
def make(data: Output[Dataset], model: Output[Model], rows: int = 2500) -> None:
    import pandas as pd
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    x, y = make_classification(rows, 6, random_state=1)
    features = [f"f{i}" for i in range(6)]
    pd.DataFrame(x, columns=features).assign(**{TARGET: y}).to_parquet(data.path, index=False)
    Path(model.path).mkdir()
    with open(Path(model.path) / "model.pkl", "wb") as handle:
        pickle.dump(LogisticRegression().fit(x, y), handle)
    (Path(model.path) / "model.json").write_text(json.dumps({"features": features, "target": TARGET}))


@pipeline(name="make_and_serve")
def make_and_serve(chunk_rows: int = 300) -> None:
    made = make()
    serve(model=made.model, data=made.data, chunk_rows=chunk_rows, traffic={"requests_per_hour": OFFICE})


def test_in_a_pipeline_it_scores_the_data_in_chunks_and_writes_the_recommendation(tmp_path, monkeypatch):
    monkeypatch.setenv("GREENPIPE_HOME", str(tmp_path / "home"))
    store = Store(tmp_path / "home")
    result = Runner(make_and_serve, {}, store=store).run()
    failed = [s for s in result.steps if s.status == "failed"]
    assert not failed, failed[0].error
    import pandas as pd

    scored = pd.read_parquet(store.object_path(result.step("serve").outputs["scored"]))
    folder = store.object_path(result.step("make").outputs["model"])
    with open(folder / "model.pkl", "rb") as handle:
        clf = pickle.load(handle)  # made by this test
    features = [f"f{i}" for i in range(6)]
    assert len(scored) == 2500
    assert (scored["prediction"].to_numpy() == clf.predict(scored[features].to_numpy())).all()
    assert scored["probability_1"].to_numpy() == pytest.approx(clf.predict_proba(scored[features].to_numpy())[:, 1])
    doc = json.loads(
        (store.object_path(result.step("serve").outputs["recommendation"]) / "recommendation.json").read_text()
    )
    values = result.step("serve").values
    assert values["mode"] == doc["chosen"] == "real_time"  # a 1 s objective rules out cold starts and queues
    assert values["instance_type"] == "ml.c6i.large"
    real_time = next(o for o in doc["options"] if o["mode"] == "real_time")
    assert real_time["instance_hours"] == doc["always_on_instance_hours"] == 720
    assert doc["model"]["source"] == "measured by serve" and doc["scored_rows"] == 2500
    for option in doc["options"]:
        assert option["config"]["energy_kwh_month"] >= 0 and option["config"]["co2e_kg_month"] >= 0
    assert "EC2 instance types" in doc["instance_source"] and doc["grid"]["source"]
    manifest = json.loads((folder_of(store, result) / "kserve_inferenceservice.json").read_text())
    predictor = manifest["spec"]["predictor"]
    assert manifest["kind"] == "InferenceService" and predictor["model"]["modelFormat"]["name"] == "sklearn"
    assert predictor["minReplicas"] == 0  # office hours leave 16 idle hours a day: scale to zero


def folder_of(store, result):
    return store.object_path(result.step("serve").outputs["recommendation"])


def test_kserve_manifest_keeps_a_replica_only_for_round_the_clock_real_time_traffic():
    from greenpipe.components.serve.kserve import inference_service

    chosen, _, profile = choice(STEADY, 100.0)
    steady = inference_service(
        name="rain", form="onnx", storage_uri="s3://b/m/", option=chosen, traffic=profile, memory_mb=20
    )
    assert steady["spec"]["predictor"]["minReplicas"] == 1
    assert steady["spec"]["predictor"]["model"]["protocolVersion"] == "v2"
    batch, _, profile = choice(NIGHTLY, 1000.0)
    assert (
        inference_service(name="r", form="onnx", storage_uri="s3://b/", option=batch, traffic=profile, memory_mb=20)
        is None
    )


def test_compiles_to_a_kfp_component_and_a_validated_sagemaker_processing_step(tmp_path):
    from greenpipe.backends.sagemaker import step_template

    assert step_template(serve)["operation"] == "CreateProcessingJob"
    pytest.importorskip("kfp")
    from greenpipe.backends.kfp import component_yaml

    out = tmp_path / "serve.yaml"
    component_yaml(serve, str(out))
    assert "greenpipe_code" in out.read_text()

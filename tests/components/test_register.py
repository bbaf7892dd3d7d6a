"""register: registry entries, champion/challenger on the same data, the card's measured footprint, safety,
MLflow and SageMaker backends. Pipelines here are real: real sklearn on a bundled data set, the real Runner and
store."""

import json
import math
import os
import pickle
import time
from pathlib import Path

import pytest

import greenpipe.components.spot_train  # noqa: F401  its import registers the early_stop credit kind the test step claims
from greenpipe import Dataset, Metrics, Model, Output, pipeline, step
from greenpipe.components.register import (
    aliases,
    card_folder,
    evaluations,
    events,
    get_version,
    list_models,
    list_versions,
    load_model,
    read_card,
    register,
)
from greenpipe.components.register.errors import ModelTampered, RegistryError
from greenpipe.errors import GreenpipeError
from greenpipe.runner import Runner
from greenpipe.store import Store

TARGET = "malignant"


@step(description="Bundled breast-cancer data as Parquet, shuffled by seed")
def make_data(data: Output[Dataset], seed: int = 0) -> None:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame.rename(columns={"target": TARGET})
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    frame.sample(frac=1.0, random_state=seed).reset_index(drop=True).to_parquet(data.path, index=False)


@step(description="Split off the last share of rows as the evaluation set")
def split(data: Dataset, train: Output[Dataset], test: Output[Dataset], test_share: float = 0.3) -> None:
    import pandas as pd

    frame = pd.read_parquet(data.path)
    cut = int(len(frame) * (1 - test_share))
    frame.iloc[:cut].to_parquet(train.path, index=False)
    frame.iloc[cut:].to_parquet(test.path, index=False)


@step(description="Fit an early-stopping SGD classifier; credit the epochs early stopping saved")
def train(train: Dataset, model: Output[Model], alpha: float = 1e-4, max_iter: int = 300) -> None:
    import pandas as pd
    from sklearn.linear_model import SGDClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from greenpipe.context import current
    from greenpipe.ledger import UsageMeter, formula_kwh

    frame = pd.read_parquet(train.path)
    features = [c for c in frame.columns if c != TARGET]
    clf = make_pipeline(
        StandardScaler(),
        SGDClassifier(alpha=alpha, max_iter=max_iter, early_stopping=True, n_iter_no_change=3, random_state=0),
    )
    with UsageMeter() as meter:
        clf.fit(frame[features], frame[TARGET])
    epochs = int(clf[-1].n_iter_)
    per_epoch = formula_kwh(meter.cpu_s, meter.wall_s, meter.peak_mb / 1024) / epochs
    current().credit_avoided(
        "early_stop",
        per_epoch * (max_iter - epochs),
        f"measured {per_epoch * 1000:.3g} Wh/epoch x {max_iter - epochs} epochs not run",
    )
    Path(model.path).mkdir()
    with open(Path(model.path) / "model.pkl", "wb") as handle:
        pickle.dump(clf, handle)
    spec = {"estimator": "SGDClassifier", "features": features, "target": TARGET, "params": {"alpha": alpha}}
    (Path(model.path) / "model.json").write_text(json.dumps(spec))


@step(description="Accuracy and ROC AUC on the evaluation set")
def evaluate(model: Model, test: Dataset, metrics: Output[Metrics]) -> None:
    import pandas as pd
    from sklearn.metrics import accuracy_score, roc_auc_score

    with open(Path(model.path) / "model.pkl", "rb") as handle:
        clf = pickle.load(handle)  # an object this test just produced in the store
    frame = pd.read_parquet(test.path)
    x = frame.drop(columns=[TARGET])
    metrics.log_metric("accuracy", accuracy_score(frame[TARGET], clf.predict(x)))
    metrics.log_metric("roc_auc", roc_auc_score(frame[TARGET], clf.decision_function(x)))


@step(description="A drift baseline stand-in: column means of the training data as JSON")
def baseline_of(train: Dataset, baseline: Output[Dataset]) -> None:
    import pandas as pd

    pd.read_parquet(train.path).mean().to_frame("mean").to_parquet(baseline.path)


@pipeline(name="train_and_register")
def train_and_register(
    seed: int = 0, alpha: float = 1e-4, margin: float = 0.0, name: str = "cancer", mlflow_uri: str = ""
) -> None:
    data = make_data(seed=seed)
    parts = split(data=data.outputs["data"])
    fitted = train(train=parts.train, alpha=alpha)
    scored = evaluate(model=fitted.model, test=parts.test)
    base = baseline_of(train=parts.train)
    register(
        model=fitted.model,
        metrics=scored.metrics,
        validation=parts.test,
        baseline=base.baseline,
        model_name=name,
        metric="accuracy",
        promote_margin=margin,
        intended_use="Screening research only",
        owner="ml-team",
        mlflow_tracking_uri=mlflow_uri,
    )


def run(store, **params):
    result = Runner(train_and_register, params, store=store).run()
    failed = [s for s in result.steps if s.status == "failed"]
    assert not failed, failed[0].error
    return result


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("GREENPIPE_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    return Store(tmp_path / "home")


def test_card_footprint_is_the_ledger_sum_over_the_lineage(store):
    result = run(store)
    reg = result.step("register")
    assert reg.values == {"version": 1, "promoted": True, "champion_version": 1}
    folder = store.object_path(reg.outputs["card"])
    assert sorted(p.name for p in folder.iterdir()) == ["card.html", "card.md", "footprint.json", "model_card.json"]
    content = json.loads((folder / "model_card.json").read_text())

    model_digest = result.step("train").outputs["model"]
    metrics_digest = result.step("evaluate").outputs["metrics"]
    rows = {r["exec_id"]: r for d in (model_digest, metrics_digest) for r in store.lineage(d)}
    assert {r["task"] for r in rows.values()} == {"make_data", "split", "train", "evaluate"}
    energy = math.fsum(r["energy_kwh"] for r in rows.values())
    co2 = math.fsum(r["co2e_g"] for r in rows.values())
    avoided = math.fsum(c["energy_kwh"] for e in rows for c in store.credits_of(e))
    assert energy > 0 and co2 > 0 and avoided > 0  # the train step credited measured early-stop epochs

    details = content["additional_information"]["custom_details"]
    assert float(details["footprint_energy_kwh"]) == pytest.approx(energy, rel=1e-12)
    assert float(details["footprint_co2e_g"]) == pytest.approx(co2, rel=1e-12)
    assert float(details["footprint_avoided_energy_kwh"]) == pytest.approx(avoided, rel=1e-12)
    assert json.loads(details["footprint_avoided_by_kind"]) == {"early_stop": pytest.approx(avoided, rel=1e-12)}
    assert details["footprint_executions"] == "4"
    co2_block = json.loads((folder / "footprint.json").read_text())["co2_eq_emissions"]
    assert co2_block["emissions"] == pytest.approx(co2, rel=1e-12)
    assert co2_block["training_type"] == "pre-training" and "us-east-1" in co2_block["geographical_location"]

    md = (folder / "card.md").read_text()
    assert md.startswith("---\nco2_eq_emissions:\n  emissions: ") and "| train |" in md
    html = (folder / "card.html").read_text()
    assert "<h2>Footprint (measured)</h2>" in html and "Screening research only" in html
    # the registry keeps the same card, the lineage and the data digests
    assert read_card(store, "cancer", 1) == content
    assert card_folder(store, "cancer", 1) == folder
    record = get_version(store, "cancer", 1)
    assert record.run_id == result.run_id
    assert result.step("make_data").outputs["data"] in record.data_digests.values()
    assert record.eval_digest == result.step("split").outputs["test"]
    assert record.baseline_digest == result.step("baseline_of").outputs["baseline"]


def test_model_and_baseline_are_pinned_and_helpers_list_them(store):
    result = run(store)
    record = get_version(store, "cancer", 1)
    pins = {(r["digest"], r["owner"]) for r in store.query("SELECT * FROM pins")}
    assert (record.model_digest, "registry:cancer:1") in pins
    assert (record.baseline_digest, "registry:cancer:1") in pins
    assert list_models(store) == [
        {
            "name": "cancer",
            "metric": "accuracy",
            "higher_is_better": True,
            "owner": "ml-team",
            "description": "",
            "versions": 1,
            "aliases": {"candidate": 1, "champion": 1},
        }
    ]
    assert [v.version for v in list_versions(store, "cancer")] == [1]
    assert record.approval == "Approved"
    assert [e["event"] for e in events(store, "cancer")][:2] == ["registered", "alias:candidate"]
    # a second run of the same pipeline: same model digest, so the same version, not a new one
    again = run(store)
    assert again.step("register").values["version"] == 1
    assert len(list_versions(store, "cancer")) == 1
    assert result.step("train").outputs == again.step("train").outputs


def test_candidate_promoted_only_when_it_beats_champion_by_the_margin(store):
    weak = run(store, alpha=5.0)  # heavy regularisation: a worse model on the same data
    assert weak.step("register").values == {"version": 1, "promoted": True, "champion_version": 1}
    # a better model, but the margin asks for more than any accuracy gain can give
    strict = run(store, alpha=1e-4, margin=0.5)
    v1, v2 = get_version(store, "cancer", 1), get_version(store, "cancer", 2)
    assert v2.eval_digest == v1.eval_digest
    assert v2.metrics["accuracy"] > v1.metrics["accuracy"]
    assert strict.step("register").values == {"version": 2, "promoted": False, "champion_version": 1}
    assert aliases(store, "cancer") == {"candidate": 2, "champion": 1}
    assert v2.approval == "PendingManualApproval"
    assert "not promoted" in read_card(store, "cancer", 2)["evaluation_details"][0]["evaluation_observation"]
    # the same better model with no margin: now it wins
    lenient = run(store, alpha=1e-4, margin=0.0)
    assert lenient.step("register").values == {"version": 2, "promoted": True, "champion_version": 2}
    assert aliases(store, "cancer") == {"candidate": 2, "champion": 2}
    assert get_version(store, "cancer", 2).approval == "Approved"
    # the weak model again: registered before, not better, stays behind
    back = run(store, alpha=5.0)
    assert back.step("register").values == {"version": 1, "promoted": False, "champion_version": 2}


def test_champion_scored_on_other_data_is_re_evaluated_on_this_data(store):
    import pandas as pd
    from sklearn.metrics import accuracy_score

    run(store, seed=0)
    second = run(store, seed=1, alpha=3e-4)  # another shuffle: other evaluation data, another model
    new_eval = second.step("split").outputs["test"]
    assert get_version(store, "cancer", 1).eval_digest != new_eval
    rescored = [e for e in evaluations(store, "cancer", 1) if e["eval_digest"] == new_eval]
    assert len(rescored) == 1 and rescored[0]["source"].startswith("re-evaluated by register exec:")
    # the value is the champion's real accuracy on the new data, computed here independently
    frame = pd.read_parquet(store.object_path(new_eval))
    expected = accuracy_score(frame[TARGET], load_model(store, "cancer", 1).predict(frame.drop(columns=[TARGET])))
    assert rescored[0]["value"] == pytest.approx(expected)
    observation = read_card(store, "cancer", 2)["evaluation_details"][0]["evaluation_observation"]
    assert "was evaluated on other data" in observation and "re-evaluated it on this data" in observation
    cand = get_version(store, "cancer", 2).metrics["accuracy"]
    assert second.step("register").values["promoted"] == (cand > expected)


class _Payload:
    """Unpickling this would create a file: proof of whether a pickle was loaded."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_tampered_model_is_refused_and_never_unpickled(store, tmp_path):
    run(store)
    record = get_version(store, "cancer", 1)
    pkl = store.object_path(record.model_digest) / "model.pkl"
    marker = tmp_path / "unpickled"
    pkl.chmod(0o644)
    pkl.write_bytes(pickle.dumps(_Payload(str(marker))))
    with pytest.raises(ModelTampered, match=r"refused to load .* the registry recorded .*nothing was unpickled"):
        load_model(store, "cancer", 1)
    assert not marker.exists()
    # re-evaluating the tampered champion on new data fails the register step with the same clear error
    result = Runner(train_and_register, {"seed": 2}, store=store).run()
    assert result.step("register").status == "failed"
    assert "ModelTampered" in result.step("register").error
    assert not marker.exists()


def test_user_errors_name_the_field_and_the_fix(store, tmp_path):
    model_dir = tmp_path / "m"
    model_dir.mkdir()
    (model_dir / "model.pkl").write_bytes(pickle.dumps({"not": "a model"}))
    metrics = Metrics(tmp_path / "metrics.json")
    metrics.log_metric("accuracy", 0.9)
    with pytest.raises(RegistryError, match=r"metric='f1' is not in the metrics input; it has \['accuracy'\]"):
        register(Model(model_dir), metrics, Model(tmp_path / "card"), metric="f1")
    with pytest.raises(RegistryError, match="risk_rating='Extreme' is not one of High, Medium, Low, Unknown"):
        register(Model(model_dir), metrics, Model(tmp_path / "card"), risk_rating="Extreme")
    # a plain call (outside a pipeline) registers too, with an empty lineage: the card says 0 executions
    out = register(Model(model_dir), metrics, Model(tmp_path / "card"), model_name="plain")
    assert out == (1, True, 1)
    details = read_card(store, "plain", 1)["additional_information"]["custom_details"]
    assert details["footprint_executions"] == "0" and float(details["footprint_energy_kwh"]) == 0.0
    metrics.log_metric("accuracy", 0.95)
    metrics.log_metric("log_loss", 0.3)
    with pytest.raises(RegistryError, match="metric='accuracy', higher_is_better=True"):
        register(Model(model_dir), metrics, Model(tmp_path / "card2"), model_name="plain", metric="log_loss")
    with pytest.raises(GreenpipeError, match="metric='precision_at_10' is not a metric register computes"):
        register(Model(model_dir), metrics, Model(tmp_path / "card2"), model_name="plain", metric="precision_at_10")


def test_card_content_fits_the_sagemaker_model_card_shapes(store, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    shapes = pytest.importorskip("sagemaker.core.shapes.model_card_shapes")
    run(store)
    content = read_card(store, "cancer", 1)
    parsed = shapes.ModelCardContent.model_validate(content).model_dump(exclude_none=True, mode="json")
    # every section and field survives the SDK's pydantic shapes; the SDK shape lacks only model_name/version
    # (documented in the CloudFormation ModelOverview as ModelName and ModelVersion)
    expected = json.loads(json.dumps(content))
    del expected["model_overview"]["model_name"], expected["model_overview"]["model_version"]
    assert parsed == expected


@pytest.fixture
def aws(monkeypatch):
    pytest.importorskip("moto")
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    from moto import mock_aws

    with mock_aws():
        yield


def test_sagemaker_requests_validate_and_run_under_moto(store, aws):
    import boto3

    from greenpipe.components.register import sagemaker_registry as smr

    run(store)
    record = get_version(store, "cancer", 1).to_dict()
    image = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
    package = smr.model_package_request(record, bucket="models", prefix="greenpipe", image_uri=image)
    assert package == smr.model_package_request(record, bucket="models", prefix="greenpipe", image_uri=image)
    for operation, params in (
        ("CreateModelPackageGroup", smr.model_package_group_request("cancer")),
        ("CreateModelPackage", package),
        ("CreateModelCard", smr.model_card_request("cancer", 1, record["card"])),
    ):
        smr.validate_request(operation, params)
    with pytest.raises(RegistryError, match=r"ModelApprovalStatus='Maybe' is not one of"):
        smr.validate_request("CreateModelPackage", {**package, "ModelApprovalStatus": "Maybe"})
    with pytest.raises(RegistryError, match=r"ModelPackageGroupName='bad_name!' does not match"):
        smr.validate_request("CreateModelPackageGroup", {"ModelPackageGroupName": "bad_name!"})

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="models")
    sm = boto3.client("sagemaker", region_name="us-east-1")
    arns = smr.publish(record, sagemaker_client=sm, s3_client=s3, bucket="models", prefix="greenpipe", image_uri=image)
    described = sm.describe_model_package(ModelPackageName=arns["model_package_arn"])
    assert described["ModelApprovalStatus"] == "Approved"
    stats_uri = described["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    body = s3.get_object(Bucket="models", Key=stats_uri.split("/", 3)[3])["Body"].read()
    assert json.loads(body)["metrics"]["accuracy"]["value"] == record["metrics"]["accuracy"]
    assert described["CustomerMetadataProperties"]["footprint-co2e-g"] == repr(record["footprint"]["co2e_g"])
    card = sm.describe_model_card(ModelCardName="cancer-v1")
    assert json.loads(card["Content"]) == record["card"]
    # publishing a second version reuses the group
    again = smr.publish(
        {**record, "version": 2},
        sagemaker_client=sm,
        s3_client=s3,
        bucket="models",
        prefix="greenpipe",
        image_uri=image,
    )
    assert again["model_package_group_arn"] == arns["model_package_group_arn"]


@pytest.mark.slow
def test_mlflow_backend_registers_version_with_footprint_tags(store, tmp_path):
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    started = time.time()
    run(store, mlflow_uri=uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    versions = client.search_model_versions("name='cancer'")
    assert len(versions) == 1
    record = get_version(store, "cancer", 1)
    tags = versions[0].tags
    assert tags["greenpipe_model_digest"] == record.model_digest
    assert float(tags["greenpipe_footprint_energy_kwh"]) == record.footprint["energy_kwh"]
    assert client.get_model_version_by_alias("cancer", "champion").version == versions[0].version
    mlrun = client.get_run(versions[0].run_id)
    assert mlrun.data.metrics["accuracy"] == record.metrics["accuracy"]
    assert mlrun.data.metrics["footprint_co2e_g"] == record.footprint["co2e_g"]
    artifacts = {a.path for a in client.list_artifacts(versions[0].run_id, "model")}
    assert artifacts == {"model/model.json", "model/model.pkl"}
    assert (
        not (Path(__file__).parents[2] / "mlruns").exists()
        or (Path(__file__).parents[2] / "mlruns").stat().st_mtime < started
    )
    # registering the same model again does not add an MLflow version
    run(store, mlflow_uri=uri)
    assert len(client.search_model_versions("name='cancer'")) == 1

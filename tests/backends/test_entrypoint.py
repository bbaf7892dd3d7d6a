"""`python -m greenpipe.run` as a container calls it: the compiled SageMaker commands, run as subprocesses on a
temporary /opt/ml root, give what the local runner gives. Plus the Dockerfile's pins."""

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from greenpipe.pipelines.train import train

import greenpipe
from greenpipe.backends import image
from greenpipe.backends.sagemaker import compile_definition
from greenpipe.runner import Runner
from greenpipe.store import Store

REPO = Path(__file__).resolve().parents[2]
ROLE = "arn:aws:iam::123456789012:role/greenpipe-sm"


def resolve(value, defaults, outputs):
    """Evaluate a definition expression the way SageMaker would, with local folders standing for S3."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    if "Std:Join" in value:
        return value["Std:Join"]["On"].join(resolve(v, defaults, outputs) for v in value["Std:Join"]["Values"])
    ref = value["Get"]
    if ref == "Execution.PipelineExecutionId":
        return "exec-1"
    if ref.startswith("Parameters."):
        return str(defaults[ref.split(".", 1)[1]])
    match = re.fullmatch(r"Steps\.(\w+)\.ProcessingOutputConfig\.Outputs\['(\w+)'\]\.S3Output\.S3Uri", ref)
    return outputs[(match[1], match[2])]


def s3_folder(tmp_path, uri):
    return tmp_path / "s3" / uri[len("s3://") :]


def run_processing_step(tmp_path, item, defaults, outputs):
    """Download inputs, run the job's command with GREENPIPE_SM_ROOT, upload outputs: one Processing job."""
    args = item["Arguments"]
    root = tmp_path / "jobs" / item["Name"]
    for entry in args.get("ProcessingInputs", []):
        local = root / entry["S3Input"]["LocalPath"].lstrip("/")
        shutil.copytree(s3_folder(tmp_path, resolve(entry["S3Input"]["S3Uri"], defaults, outputs)), local)
    app = args["AppSpecification"]
    command = [sys.executable if c == "python" else c for c in app["ContainerEntrypoint"]]
    command += [resolve(a, defaults, outputs) for a in app["ContainerArguments"]]
    env = {
        **os.environ,
        **args["Environment"],
        "GREENPIPE_SM_ROOT": str(root),
        "GREENPIPE_HOME": str(tmp_path / "home"),
    }
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for entry in args["ProcessingOutputConfig"]["Outputs"]:
        uri = resolve(entry["S3Output"]["S3Uri"], defaults, outputs)
        shutil.copytree(root / entry["S3Output"]["LocalPath"].lstrip("/"), s3_folder(tmp_path, uri))
        outputs[(item["Name"], entry["OutputName"])] = uri
    return proc


def test_compiled_train_pipeline_runs_as_sagemaker_jobs_and_matches_the_local_runner(tmp_path):
    params = {"periods": 4, "max_iter": 20}
    definition = json.loads(compile_definition(train, params, role_arn=ROLE, bucket="bucket"))
    defaults = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}
    outputs: dict = {}
    for item in definition["Steps"]:
        run_processing_step(tmp_path, item, defaults, outputs)
    metrics_uri = outputs[("evaluate_classifier", "metrics")]
    remote = json.loads((s3_folder(tmp_path, metrics_uri) / "metrics").read_text())
    local = Runner(train, params, store=Store(tmp_path / "local")).run()
    digest = local.step("evaluate_classifier").outputs["metrics"]
    expected = json.loads(Store(tmp_path / "local").object_path(digest).read_text())
    assert remote == expected
    ledger = json.loads((s3_folder(tmp_path, outputs[("fit_classifier", "greenpipe")]) / "ledger.json").read_text())
    assert ledger["cpu_s"] > 0 and ledger["energy_kwh"] > 0
    assert ledger["fingerprint"] == train.build().task("fit_classifier").step.fingerprint().digest
    assert ledger["outputs"]["model"].startswith("blake3:")


STEPS = """
import json
from typing import NamedTuple

from greenpipe import Dataset, Metrics, Model, Output, Resources, step


class Decision(NamedTuple):
    retrain: bool
    share: float


@step
def decide(data: Dataset, threshold: float = 0.5) -> Decision:
    values = json.load(open(data.path))
    share = sum(v > threshold for v in values) / len(values)
    return Decision(share > 0.5, share)


@step(resources=Resources(spot=True), runtime="training")
def fit(data: Dataset, model: Output[Model], metrics: Output[Metrics], scale: float = 1.0) -> None:
    values = json.load(open(data.path))
    json.dump({"mean": scale * sum(values) / len(values)}, open(model.path, "w"))
    metrics.log_metric("mean", scale * sum(values) / len(values))


@step
def read_model(model: Model, out: Output[Dataset]) -> None:
    json.dump(json.load(open(model.path)), open(out.path, "w"))
"""


@pytest.fixture
def steps_module(tmp_path):
    (tmp_path / "gp_sm_steps.py").write_text(STEPS)
    return tmp_path


def gp_run(args, root, pythonpath, check=True):
    env = {
        **os.environ,
        "GREENPIPE_SM_ROOT": str(root),
        "PYTHONPATH": str(pythonpath),
        "GREENPIPE_HOME": str(root / "home"),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "greenpipe.run", *args], env=env, capture_output=True, text=True, timeout=120
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_processing_values_land_in_the_property_file(tmp_path, steps_module):
    root = tmp_path / "root"
    data = root / "opt/ml/processing/input/data"
    data.mkdir(parents=True)
    (data / "data").write_text("[0.1, 0.7, 0.9]")
    gp_run(["gp_sm_steps:decide", "--sagemaker=processing", "--param", "threshold=0.6"], root, steps_module)
    values = json.loads((root / "opt/ml/processing/output/greenpipe/values.json").read_text())
    assert values == {"retrain": True, "share": pytest.approx(2 / 3)}
    ledger = json.loads((root / "opt/ml/processing/output/greenpipe/ledger.json").read_text())
    assert ledger["step"] == "gp_sm_steps:decide" and ledger["inputs"]["data"].startswith("blake3:")


def test_training_mode_reads_hyperparameters_and_a_downstream_step_unpacks_model_tar(tmp_path, steps_module):
    import tarfile

    train_root = tmp_path / "train"
    channel = train_root / "opt/ml/input/data/data"
    channel.mkdir(parents=True)
    (channel / "rows.json").write_text("[1, 2, 3]")
    config = train_root / "opt/ml/input/config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps({"scale": "2.0", "greenpipe_fingerprint": "fp:x"}))
    proc = gp_run(["gp_sm_steps:fit", "--sagemaker"], train_root, steps_module)  # mode detected: training
    assert "greenpipe-metric mean=4.0" in proc.stdout  # what the tuning job's MetricDefinitions read
    assert json.loads((train_root / "opt/ml/model/model").read_text()) == {"mean": 4.0}
    assert (train_root / "opt/ml/output/data/ledger.json").is_file()
    # SageMaker tars /opt/ml/model into model.tar.gz; the next job gets it in its input folder
    proc_root = tmp_path / "proc"
    model_in = proc_root / "opt/ml/processing/input/model"
    model_in.mkdir(parents=True)
    with tarfile.open(model_in / "model.tar.gz", "w:gz") as tar:
        for item in (train_root / "opt/ml/model").iterdir():
            tar.add(item, arcname=item.name)
    gp_run(
        ["gp_sm_steps:read_model", "--sagemaker=processing", "--archive-member", "model=model"], proc_root, steps_module
    )
    assert json.loads((proc_root / "opt/ml/processing/output/out/out").read_text()) == {"mean": 4.0}


def test_bad_input_fails_with_a_message_and_a_failure_file(tmp_path, steps_module):
    root = tmp_path / "root"
    data = root / "opt/ml/processing/input/data"
    data.mkdir(parents=True)
    (data / "data").write_text("[1]")
    proc = gp_run(
        ["gp_sm_steps:decide", "--sagemaker=processing", "--param", "threshold=high"], root, steps_module, check=False
    )
    assert proc.returncode == 2 and "threshold='high' is not a float" in proc.stderr
    assert "threshold" in (root / "opt/ml/output/failure").read_text()
    proc = gp_run(
        ["gp_sm_steps:decide", "--sagemaker=processing", "--expect-digest", "data=blake3:00"],
        root,
        steps_module,
        check=False,
    )
    assert proc.returncode == 2 and "differs from the expected" in proc.stderr
    proc = gp_run(["no_such_component"], root, steps_module, check=False)
    assert proc.returncode == 2 and "no module greenpipe.components.no_such_component" in proc.stderr


def test_short_component_names_resolve_to_the_step_named_like_the_folder():
    from greenpipe.run import resolve_step

    name = next((n for n in ("drift_gate", "register", "small_sample") if (REPO / "components" / n).is_dir()), None)
    if name is None:
        pytest.skip("no component present yet")
    assert resolve_step(name).name == name


def test_dockerfile_pins_this_version_and_the_image_name():
    text = (REPO / "Dockerfile").read_text()
    assert text.startswith("#") and "\nFROM python:3.11-slim\n" in text
    assert f"ARG GREENPIPE_VERSION={greenpipe.__version__}\n" in text
    assert f"{image.IMAGE_REPOSITORY}:{greenpipe.__version__}" in text
    assert image.default_image() in text or os.environ.get("GREENPIPE_IMAGE")
    assert "ENTRYPOINT" not in text.replace("No ENTRYPOINT", "")
    assert "[${EXTRAS}]" in text and "ARG EXTRAS=kfp,sagemaker" in text
    pins = dict(re.findall(r'"([A-Za-z0-9_.-]+)==([^"]+)"', text))
    from packaging.requirements import Requirement

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = (
        project["dependencies"]
        + project["optional-dependencies"]["kfp"]
        + project["optional-dependencies"]["sagemaker"]
    )
    for line in declared:
        req = Requirement(line)
        assert req.name in pins, f"{req.name} is not pinned in the Dockerfile"
        assert req.specifier.contains(pins[req.name]), f"{req.name}=={pins[req.name]} breaks {req}"

"""`python -m greenpipe.run` as a container calls it: the compiled SageMaker commands, run as subprocesses on a
temporary /opt/ml root, give what the local runner gives. Plus the Dockerfile's pins."""

import json
import math
import os
import re
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

import demo_steps
import pytest
from sagemaker_emulator import MissingProperty, SageMakerEmulator

import greenpipe
from greenpipe.backends import image
from greenpipe.backends.sagemaker import compile_definition
from greenpipe.pipelines.train import train
from greenpipe.runner import Runner
from greenpipe.store import Store

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
ROLE = "arn:aws:iam::123456789012:role/greenpipe-sm"


# The properties each step type has that definitions read (SageMaker's DescribeProcessingJob,
# DescribeTrainingJob and DescribeHyperParameterTuningJob responses), as patterns of the text after Steps.<name>.
STEP_PROPERTIES = {
    "Processing": (r"ProcessingOutputConfig\.Outputs\['\w+'\]\.S3Output\.S3Uri", r"PropertyFiles\.\w+"),
    "Training": (r"ModelArtifacts\.S3ModelArtifacts", r"TrainingJobName"),
    "Tuning": (r"BestTrainingJob\.TrainingJobName", r"TrainingJobSummaries\[\d+\]\.TrainingJobName"),
}


def property_reads(definition: dict) -> list[tuple[str, str, str]]:
    """(reading step, read step's type, property) for every Steps.* reference in the definition."""
    types: dict[str, str] = {}

    def collect(steps):
        for item in steps:
            types[item["Name"]] = item["Type"]
            if item["Type"] == "Condition":
                collect(item["Arguments"]["IfSteps"] + item["Arguments"]["ElseSteps"])

    def refs(value):
        if isinstance(value, dict):
            if isinstance(value.get("Get"), str) and value["Get"].startswith("Steps."):
                yield value["Get"]
            for inner in value.values():
                yield from refs(inner)
        elif isinstance(value, list):
            for inner in value:
                yield from refs(inner)

    collect(definition["Steps"])
    found = []
    for name in types:
        item = next(_find(definition["Steps"], name))
        for ref in refs(item["Arguments"] if item["Type"] != "Condition" else item["Arguments"]["Conditions"]):
            read, _, prop = ref[len("Steps.") :].partition(".")
            found.append((name, types[read], f"Steps.{read}.{prop}"))
    return found


def _find(steps, name):
    for item in steps:
        if item["Name"] == name:
            yield item
        if item["Type"] == "Condition":
            yield from _find(item["Arguments"]["IfSteps"] + item["Arguments"]["ElseSteps"], name)


def compiled(pipe, params):
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        text = compile_definition(pipe, params, role_arn=ROLE, bucket="bucket")
    return json.loads(text), [str(w.message) for w in caught]


MEASURED = ("_s", "_wh", "_kwh")


def assert_same_as_local(tmp_path, pipe, params, emulator):
    """Every step the local runner ran ran as a job, every skipped one was skipped, and every Metrics output
    holds the same numbers. Metrics that measure this machine (seconds *_s, energy *_wh / *_kwh) differ between
    any two runs, so they are checked present and non-negative; every other metric must be equal."""
    store = Store(tmp_path / "local")
    local = Runner(pipe, params, store=store).run()
    assert local.status == "succeeded"
    graph = pipe.build()
    compared = 0
    for result in local.steps:
        assert result.status in ("ran", "skipped"), f"{result.name}: {result.status} in a fresh store"
        assert emulator.status.get(result.name) == result.status, f"{result.name}: {result.status} locally"
        kinds = {o.name: o.kind for o in graph.task(result.name).step.spec.outputs}
        for output, digest in result.outputs.items():
            if kinds[output] != "metrics":
                continue
            remote = json.loads(emulator.output_path(result.name, output).read_text())
            expected = json.loads(store.object_path(digest).read_text())
            assert set(remote) == set(expected), result.name
            for metric, value in expected.items():
                if metric.endswith(MEASURED):  # seconds or energy this machine measured: never equal twice
                    assert math.isfinite(remote[metric]) and remote[metric] >= 0, f"{result.name}.{metric}"
                else:
                    assert remote[metric] == value, f"{result.name}.{metric}"
            compared += 1
    assert compared, "no Metrics output was compared"
    return local


def test_compiled_pipeline_runs_as_sagemaker_processing_and_training_jobs_like_the_local_runner(tmp_path):
    """demo: Processing jobs, a gate's value read through a property file into a Condition step, a spot
    Training job whose model.tar.gz a Processing job unpacks; the same metrics as the local runner."""
    definition, _ = compiled(demo_steps.demo, {})
    assert {s["Type"] for s in definition["Steps"]} == {"Processing", "Condition"}
    gated = next(s for s in definition["Steps"] if s["Type"] == "Condition")["Arguments"]["IfSteps"]
    assert [(s["Name"], s["Type"]) for s in gated] == [("fit", "Training"), ("evaluate_classifier", "Processing")]
    assert gated[0]["Arguments"]["EnableManagedSpotTraining"] is True
    emulator = SageMakerEmulator(tmp_path, definition)
    emulator.run()
    assert_same_as_local(tmp_path, demo_steps.demo, {}, emulator)
    assert "greenpipe-metric train_accuracy=" in emulator.procs["fit"].stdout  # what MetricDefinitions read
    ledger = emulator.ledger("fit")
    assert ledger["cpu_s"] > 0 and ledger["energy_kwh"] > 0
    assert ledger["fingerprint"] == demo_steps.fit.fingerprint().digest
    assert ledger["outputs"]["model"].startswith("tree-blake3:")
    assert set(emulator.ledger("evaluate_classifier")["inputs"]) == {"model", "test"}


def test_a_false_condition_skips_the_gated_jobs(tmp_path):
    params = {"min_rows": 10_000}
    definition, _ = compiled(demo_steps.demo, params)
    emulator = SageMakerEmulator(tmp_path, definition)
    emulator.run()
    assert emulator.status["fit"] == emulator.status["evaluate_classifier"] == "skipped"
    assert not (tmp_path / "jobs" / "fit").exists()
    local = Runner(demo_steps.demo, params, store=Store(tmp_path / "local")).run()
    assert {r.name: r.status for r in local.steps} == {
        name: status
        for name, status in emulator.status.items()
        if name in {t.name for t in demo_steps.demo.build().tasks}
    }


# The reference train, small: its 11 jobs ran in 24 s here, the local run in 9 s.
TRAIN_PARAMS = {"periods": 6, "max_trials": 3, "max_epochs": 5}


def test_reference_train_compiles_with_training_jobs_for_its_training_steps():
    definition, warned = compiled(train, TRAIN_PARAMS)
    types = {s["Name"]: s["Type"] for s in definition["Steps"]}
    graph = train.build()
    assert set(types) == {t.name for t in graph.tasks}
    for task in graph.tasks:
        expected = "Processing" if task.step.spec.runtime == "processing" else "Training"
        assert types[task.name] == expected, task.name
    assert any("bayes_tune" in w and "one SageMaker Training job" in w for w in warned)
    spot = next(s for s in definition["Steps"] if s["Name"] == "spot_train")["Arguments"]
    assert spot["EnableManagedSpotTraining"] is True
    assert spot["StoppingCondition"]["MaxWaitTimeInSeconds"] >= spot["StoppingCondition"]["MaxRuntimeInSeconds"]


def _reference(name):
    from greenpipe.loader import load_pipeline

    return load_pipeline(name)


@pytest.mark.parametrize(
    "name, params",
    [
        ("demo", {}),
        ("retrain", {}),
        ("train", TRAIN_PARAMS),
    ],
)
def test_every_step_property_a_definition_reads_exists_for_that_step_type(name, params):
    definition, _ = compiled(demo_steps.demo if name == "demo" else _reference(name), params)
    reads = property_reads(definition)
    assert reads
    for reader, kind, ref in reads:
        prop = ref.split(".", 2)[2]
        if not any(re.fullmatch(p, prop) for p in STEP_PROPERTIES[kind]):
            raise MissingProperty(f"step {reader} reads {ref}, which a {kind} step does not have")


@pytest.mark.slow
def test_compiled_train_pipeline_runs_as_sagemaker_jobs_and_matches_the_local_runner(tmp_path):
    definition, _ = compiled(train, TRAIN_PARAMS)
    emulator = SageMakerEmulator(tmp_path, definition)
    emulator.run()
    assert_same_as_local(tmp_path, train, TRAIN_PARAMS, emulator)
    ledger = emulator.ledger("spot_train")
    assert ledger["fingerprint"] == train.build().task("spot_train").step.fingerprint().digest
    assert ledger["cpu_s"] > 0 and ledger["outputs"]["model"].startswith("tree-blake3:")


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
    from greenpipe.entrypoint import resolve_step

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

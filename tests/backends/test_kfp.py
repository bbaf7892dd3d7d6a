"""Kubeflow Pipelines backend: compiled YAML is valid KFP IR, caches invalidate on code and data, when() gates,
and compiled pipelines run under kfp.local with the same results as the local runner."""

import importlib
import json
import math
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

pytest.importorskip("kfp")
yaml = pytest.importorskip("yaml")

import demo_steps  # noqa: E402
from google.protobuf import json_format  # noqa: E402
from kfp import compiler, components, dsl, local  # noqa: E402
from kfp.pipeline_spec import pipeline_spec_pb2  # noqa: E402

from greenpipe.backends.kfp import compile_pipeline, component_yaml, pipeline_component  # noqa: E402
from greenpipe.digest import digest_path  # noqa: E402
from greenpipe.errors import CompileError  # noqa: E402
from greenpipe.pipelines.train import train  # noqa: E402
from greenpipe.runner import Runner  # noqa: E402
from greenpipe.store import Store  # noqa: E402

STEPS_V1 = '''
import json
from typing import NamedTuple

from greenpipe import CachePolicy, Dataset, Metrics, Output, Resources, pipeline, step, when

SCALE = 3


def helper(values):
    return [v * SCALE for v in values]


class Decision(NamedTuple):
    go: bool
    score: float


@step
def make(data: Output[Dataset], n: int = 4) -> None:
    """Write the numbers 0..n-1."""
    with open(data.path, "w") as handle:
        json.dump(list(range(n)), handle)


@step(resources=Resources(cpu=0.5, memory_gb=1.5, gpu=1, spot=True))
def scale(data: Dataset, out: Output[Dataset]) -> None:
    """Scale every number."""
    with open(data.path) as handle:
        values = json.load(handle)
    with open(out.path, "w") as handle:
        json.dump(helper(values), handle)


@step
def total(data: Dataset, metrics: Output[Metrics]) -> None:
    """Sum the numbers as a metric."""
    with open(data.path) as handle:
        metrics.log_metric("total", sum(json.load(handle)))


@step
def decide(score: float = 0.5) -> Decision:
    """Go when the score is low (a param and a returned value may share a name)."""
    return Decision(score < 0.7, score)


@step
def mark(out: Output[Dataset], tag: str = "x", rules: list | dict | None = None) -> None:
    """Write a tag and the rules it got (a union-typed param travels through KFP as JSON text)."""
    with open(out.path, "w") as handle:
        json.dump({"tag": tag, "rules": rules}, handle)


@step(cache=CachePolicy(expire_after="P1D"))
def expiring(out: Output[Dataset]) -> None:
    """A step whose cache expires."""
    with open(out.path, "w") as handle:
        handle.write("x")


@pipeline
def numbers(n: int = 4) -> None:
    m = make(n=n)
    s = scale(data=m.data)
    total(data=s.out)


@pipeline
def from_file(source: Dataset) -> None:
    s = scale(data=source)
    total(data=s.out)


@pipeline
def gated(threshold: float = 0.5) -> None:
    d = decide(score=threshold)
    with when(d.go):
        mark(tag="go", rules={"max": 2})
    with when(d.score > 0.6):
        mark(tag="high")


@pipeline
def leaky(threshold: float = 0.5) -> None:
    d = decide(score=threshold)
    with when(d.go):
        m = make(n=3)
    total(data=m.data)


@pipeline
def with_expiry() -> None:
    expiring()


@pipeline
def required_last(n: int = 2, *, tag: str) -> None:
    make(n=n)
    mark(tag=tag)
'''


@pytest.fixture
def steps_module(tmp_path, monkeypatch):
    """A real module of small steps on sys.path (and PYTHONPATH, for kfp.local's subprocesses)."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "gp_kfp_steps.py").write_text(STEPS_V1)
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv("PYTHONPATH", str(folder))
    sys.modules.pop("gp_kfp_steps", None)
    module = importlib.import_module("gp_kfp_steps")
    yield module
    sys.modules.pop("gp_kfp_steps", None)


def parse_strict(path: Path) -> pipeline_spec_pb2.PipelineSpec:
    """Parse every document of a compiled YAML into kfp's protobufs, refusing unknown fields."""
    docs = list(yaml.safe_load_all(path.read_text()))
    spec = json_format.ParseDict(docs[0], pipeline_spec_pb2.PipelineSpec(), ignore_unknown_fields=False)
    for extra in docs[1:]:
        json_format.ParseDict(extra, pipeline_spec_pb2.PlatformSpec(), ignore_unknown_fields=False)
    return spec


def tasks_by_name(path: Path) -> dict[str, dict]:
    """Every task (root and inside condition sub-DAGs) by its display name, with its executor's container."""
    doc = next(yaml.safe_load_all(path.read_text()))
    found = {}
    dags = [doc["root"]["dag"]] + [c["dag"] for c in doc["components"].values() if "dag" in c]
    for dag in dags:
        for task in dag["tasks"].values():
            component = doc["components"][task["componentRef"]["name"]]
            container = None
            if "executorLabel" in component:
                container = doc["deploymentSpec"]["executors"][component["executorLabel"]].get("container")
            found[task["taskInfo"]["name"]] = {"task": task, "container": container}
    return found


def constant(task: dict, name: str):
    return task["task"]["inputs"]["parameters"][name]["runtimeValue"]["constant"]


# -- compiling ---------------------------------------------------------------------------------------------------


def test_train_compiles_to_strict_ir_with_pinned_image_and_no_kfp_install(tmp_path):
    out = tmp_path / "train.yaml"
    compile_pipeline(train, out)
    spec = parse_strict(out)
    assert spec.pipeline_info.name == "train"
    tasks = tasks_by_name(out)
    graph = train.build()
    assert set(tasks) == {t.name for t in graph.tasks}  # one KFP task per step, none added
    from greenpipe.backends.image import default_image

    for name, entry in tasks.items():
        step = graph.task(name).step
        assert entry["container"]["image"] == default_image()
        command = " ".join(entry["container"]["command"])
        assert "pip install" not in command  # install_kfp_package=False: the image has what it needs
        assert f"run_step({step.spec.ref!r}" in command
        assert constant(entry, "greenpipe_code") == step.fingerprint().digest
    # a spot-allowed step (spot_train) is placed on spot nodes, the others are not
    docs = list(yaml.safe_load_all(out.read_text()))
    placed = docs[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"] if len(docs) > 1 else {}
    spot = {t.name for t in graph.tasks if t.step.spec.resources.spot}
    assert spot and {tasks[n]["task"]["componentRef"]["name"].replace("comp-", "exec-") for n in spot} == set(placed)


def _train_steps():
    """Every distinct step of the reference train pipeline (components and rainfall steps)."""
    steps = {}
    for task in train.build().tasks:
        steps.setdefault(task.step.spec.ref, task.step)
    return list(steps.values())


def test_same_pipeline_compiles_to_the_same_bytes(tmp_path, steps_module):
    for pipe, params in ((train, None), (steps_module.gated, None), (steps_module.numbers, {"n": 7})):
        first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
        compile_pipeline(pipe, first, params)
        compile_pipeline(pipe, second, params)
        assert first.read_bytes() == second.read_bytes()


def test_recompiling_in_new_processes_gives_the_same_bytes(tmp_path):
    """CI compiles in a fresh process each time: different hash seeds must not reorder anything."""
    here = tmp_path / "here.yaml"
    compile_pipeline(train, here)
    code = (
        "import sys; from greenpipe.backends.kfp import compile_pipeline; from greenpipe.pipelines.train import "
        "train; compile_pipeline(train, sys.argv[1])"
    )
    for seed in ("1", "2"):
        out = tmp_path / f"seed{seed}.yaml"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run([sys.executable, "-c", code, str(out)], check=True, env=env, capture_output=True)
        assert out.read_bytes() == here.read_bytes()


def test_compile_params_become_defaults_and_are_type_checked(tmp_path, steps_module):
    out = tmp_path / "n.yaml"
    compile_pipeline(steps_module.numbers, out, {"n": 7})
    assert parse_strict(out).root.input_definitions.parameters["n"].default_value.number_value == 7
    from greenpipe.errors import ParamError

    with pytest.raises(ParamError, match="n="):
        compile_pipeline(steps_module.numbers, out, {"n": "seven"})
    with pytest.raises(ParamError, match="no param 'm'"):
        compile_pipeline(steps_module.numbers, out, {"m": 1})


def test_required_pipeline_params_stay_required_and_bind_to_the_right_tasks(tmp_path, steps_module):
    # `tag` is required but declared after `n`: KFP's signature puts it first, and the binding must not shift
    out = tmp_path / "r.yaml"
    compile_pipeline(steps_module.required_last, out)
    spec = parse_strict(out)
    assert not spec.root.input_definitions.parameters["tag"].is_optional
    tasks = tasks_by_name(out)
    assert tasks["make"]["task"]["inputs"]["parameters"]["n"] == {"componentInputParameter": "n"}
    assert tasks["mark"]["task"]["inputs"]["parameters"]["tag"] == {"componentInputParameter": "tag"}


def test_editing_one_steps_code_changes_exactly_that_tasks_key(tmp_path, steps_module):
    before, after = tmp_path / "before.yaml", tmp_path / "after.yaml"
    compile_pipeline(steps_module.numbers, before)
    source = Path(steps_module.__file__)
    # a project helper that only `scale` reaches: the fingerprint follows it, KFP alone would not
    source.write_text(STEPS_V1.replace("SCALE = 3", "SCALE = 4  # changed"))
    importlib.invalidate_caches()
    module = importlib.reload(steps_module)
    compile_pipeline(module.numbers, after)
    old, new = tasks_by_name(before), tasks_by_name(after)
    assert constant(old["scale"], "greenpipe_code") != constant(new["scale"], "greenpipe_code")
    assert old["scale"]["container"]["command"] != new["scale"]["container"]["command"]
    for name in ("make", "total"):
        assert old[name] == new[name], f"{name} did not change but its task spec did"


def test_new_data_at_the_same_path_changes_the_consumers_key(tmp_path, steps_module):
    data = tmp_path / "input.json"
    data.write_text(json.dumps([1, 2, 3]))
    first, same, changed = tmp_path / "1.yaml", tmp_path / "2.yaml", tmp_path / "3.yaml"
    compile_pipeline(steps_module.from_file, first, {"source": str(data)})
    compile_pipeline(steps_module.from_file, same, {"source": str(data)})
    data.write_text(json.dumps([1, 2, 4]))
    compile_pipeline(steps_module.from_file, changed, {"source": str(data)})
    assert first.read_bytes() == same.read_bytes()  # unchanged data keeps the cache key
    old, new = tasks_by_name(first), tasks_by_name(changed)
    assert json.loads(constant(new["scale"], "greenpipe_data")) == {"data": digest_path(data)}
    assert constant(old["scale"], "greenpipe_data") != constant(new["scale"], "greenpipe_data")
    assert old["total"] == new["total"]  # fed by scale's output: KFP's own artifact lineage covers it
    importer = tasks_by_name(changed)["import-source"]["task"]
    doc = next(yaml.safe_load_all(changed.read_text()))
    spec = doc["deploymentSpec"]["executors"]
    importer_exec = next(e["importer"] for e in spec.values() if "importer" in e)
    assert importer_exec["artifactUri"]["constant"] == str(data)
    assert importer_exec["metadata"]["greenpipe_digest"] == digest_path(data)
    assert importer["componentRef"]


def test_remote_dataset_needs_a_digest(tmp_path, steps_module):
    out = tmp_path / "r.yaml"
    with pytest.raises(CompileError, match="source.*remote.*data_digests"):
        compile_pipeline(steps_module.from_file, out, {"source": "s3://bucket/data.json"})
    compile_pipeline(
        steps_module.from_file, out, {"source": "s3://bucket/data.json"}, data_digests={"source": "blake3:abc"}
    )
    assert json.loads(constant(tasks_by_name(out)["scale"], "greenpipe_data")) == {"data": "blake3:abc"}
    with pytest.raises(CompileError, match="Dataset parameter source needs a value"):
        compile_pipeline(steps_module.from_file, out)


def test_resources_and_spot_placement_for_eks_and_gke(tmp_path, steps_module):
    for provider, label, value in (
        ("eks", "eks.amazonaws.com/capacityType", "SPOT"),
        ("gke", "cloud.google.com/gke-spot", "true"),
    ):
        out = tmp_path / f"{provider}.yaml"
        compile_pipeline(steps_module.numbers, out, spot=provider)
        parse_strict(out)
        docs = list(yaml.safe_load_all(out.read_text()))
        executors = docs[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
        assert list(executors) == ["exec-scale"]  # only the spot-allowed step
        assert executors["exec-scale"]["nodeSelector"]["labels"] == {label: value}
        assert executors["exec-scale"]["tolerations"] == [
            {"key": label, "operator": "Equal", "value": value, "effect": "NoSchedule"}
        ]
        resources = tasks_by_name(out)["scale"]["container"]["resources"]
        assert resources["resourceCpuLimit"] == "500m"
        assert resources["resourceMemoryLimit"] == "1500M"
        assert resources["accelerator"]["resourceType"] == "nvidia.com/gpu"
        assert resources["accelerator"]["resourceCount"] == "1"
        assert tasks_by_name(out)["make"]["container"]["resources"]["resourceCpuLimit"] == "1"
    with pytest.raises(CompileError, match="spot='azure'"):
        compile_pipeline(steps_module.numbers, tmp_path / "x.yaml", spot="azure")


def test_when_becomes_dsl_if_on_the_value_output(tmp_path, steps_module):
    out = tmp_path / "gated.yaml"
    compile_pipeline(steps_module.gated, out)
    spec = parse_strict(out)
    conditions = sorted(t.trigger_policy.condition for t in spec.root.dag.tasks.values() if t.trigger_policy.condition)
    assert conditions == [
        "inputs.parameter_values['pipelinechannel--decide-go'] == true",
        "inputs.parameter_values['pipelinechannel--decide-score'] > 0.6",
    ]
    outputs = spec.components["comp-decide"].output_definitions.parameters
    assert sorted(outputs) == ["go", "score"]


def test_constructs_kfp_cannot_express_name_the_step_and_construct(tmp_path, steps_module):
    with pytest.raises(CompileError, match="step total: input data reads output 'data' of step make.*dsl.If"):
        compile_pipeline(steps_module.leaky, tmp_path / "l.yaml")
    with pytest.raises(CompileError, match="step expiring.*cache expiry"):
        compile_pipeline(steps_module.with_expiry, tmp_path / "e.yaml", cache_expiry="error")
    with pytest.warns(UserWarning, match="step expiring"):
        compile_pipeline(steps_module.with_expiry, tmp_path / "e.yaml")
    task = tasks_by_name(tmp_path / "e.yaml")["expiring"]["task"]
    assert task["cachingOptions"].get("enableCache", False) is False  # never a stale hit
    with pytest.raises(CompileError, match="pipeline gated: param threshold is nan.*finite"):
        compile_pipeline(steps_module.gated, tmp_path / "n.yaml", {"threshold": float("nan")})
    assert not list(tmp_path.glob(".*.tmp*"))  # failed compiles leave no half-written files


# -- components --------------------------------------------------------------------------------------------------


def test_component_yamls_load_and_parse(tmp_path, steps_module):
    for step in [*_train_steps(), steps_module.decide, steps_module.scale]:
        out = tmp_path / f"{step.spec.name}.yaml"
        component_yaml(step, out)
        parse_strict(out)
        loaded = components.load_component_from_file(str(out))
        assert loaded.component_spec.inputs["greenpipe_code"].default == step.fingerprint().digest
        assert loaded.name == step.spec.name.replace("_", "-")


def test_every_catalog_step_compiles_without_special_cases(tmp_path):
    from greenpipe import kfp as greenpipe_kfp

    steps = greenpipe_kfp._component_steps() + greenpipe_kfp._pipeline_steps()
    assert steps, "no steps found in greenpipe.components or greenpipe.pipelines"
    for step in steps:
        out = tmp_path / f"{step.spec.name}.yaml"
        component_yaml(step, out)
        parse_strict(out)


def test_user_pipeline_imports_greenpipe_components(tmp_path):
    from greenpipe.kfp import drift_baseline, drift_gate, ingest_rainfall, spot_train, time_split

    @dsl.pipeline(name="my-own")
    def my_own(periods: int = 3) -> None:
        data = ingest_rainfall(periods=periods)
        parts = time_split(data=data.outputs["data"], test_share=0.25)
        baseline = drift_baseline(data=parts.outputs["train"], target="rain")
        gate = drift_gate(data=parts.outputs["test"], baseline=baseline.outputs["baseline"], target="rain")
        with dsl.If(gate.outputs["retrain"] == True):  # noqa: E712 - a KFP condition
            spot_train(data=parts.outputs["train"], target="rain", max_epochs=5)

    out = tmp_path / "mine.yaml"
    compiler.Compiler().compile(my_own, str(out))
    spec = parse_strict(out)
    assert set(spec.root.dag.tasks) == {"ingest-rainfall", "time-split", "drift-baseline", "drift-gate", "condition-1"}
    assert set(spec.components["comp-condition-1"].dag.tasks) == {"spot-train"}
    assert sorted(spec.components["comp-drift-gate"].output_definitions.parameters) == [
        "drift_share",
        "kpi_drop",
        "quality_ok",
        "retrain",
    ]
    from greenpipe.components.drift_gate import drift_gate as step

    default = spec.components["comp-drift-gate"].input_definitions.parameters["greenpipe_code"].default_value
    assert default.string_value == step.fingerprint().digest
    with pytest.raises(ImportError):
        from greenpipe.kfp import no_such_component  # noqa: F401


def test_importing_greenpipe_kfp_imports_neither_kfp_nor_components():
    code = (
        "import sys, greenpipe.kfp; print(json.dumps([m for m in sys.modules if m == 'kfp' "
        "or m.startswith('kfp.') or m.startswith('greenpipe.components.')]))"
    )
    out = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


# -- running under kfp.local -------------------------------------------------------------------------------------


def _run_local(pipe, root: Path, **arguments):
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root), raise_on_error=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "image has no 'python' in its name": we run in-process
        pipeline_component(pipe, local_conditions=True)(**arguments)
    return {p.parent.name: p for p in root.glob("*/*/executor_output.json")}


def test_when_skips_and_runs_under_kfp_local(tmp_path, steps_module):
    ran = _run_local(steps_module.gated, tmp_path / "low", threshold=0.3)  # go, not high
    assert {"greenpipe-when", "greenpipe-when-2"} <= set(ran)  # kfp.local reads conditions from these
    assert {t for t in ran if not t.startswith("greenpipe-when")} == {"decide", "mark"}
    written = next((tmp_path / "low").glob("*/mark/out"))
    assert json.loads(written.read_text()) == {"tag": "go", "rules": {"max": 2}}
    ran = _run_local(steps_module.gated, tmp_path / "high", threshold=0.9)  # high, not go
    assert {t for t in ran if not t.startswith("greenpipe-when")} == {"decide", "mark-2"}
    written = next((tmp_path / "high").glob("*/mark-2/out"))
    assert json.loads(written.read_text()) == {"tag": "high", "rules": None}
    decided = json.loads(ran["decide"].read_text())["parameterValues"]
    assert decided == {"go": False, "score": 0.9}


def test_metrics_reach_the_file_and_kfp_metadata_under_kfp_local(tmp_path, steps_module):
    ran = _run_local(steps_module.numbers, tmp_path / "root", n=5)
    assert set(ran) == {"make", "scale", "total"}
    metrics_file = next((tmp_path / "root").glob("*/total/metrics"))
    assert json.loads(metrics_file.read_text()) == {"total": 30.0}  # (0+1+2+3+4) x 3
    executor_output = json.loads(ran["total"].read_text())
    assert executor_output["artifacts"]["metrics"]["artifacts"][0]["metadata"] == {"total": 30.0}
    scaled = json.loads(ran["scale"].read_text())["artifacts"]["out"]["artifacts"][0]["metadata"]
    assert scaled["greenpipe_digest"] == digest_path(next((tmp_path / "root").glob("*/scale/out")))
    assert scaled["greenpipe_usage"]["cpu_s"] >= 0 and scaled["greenpipe_usage"]["energy_kwh"] > 0


def _reference_names() -> list[str]:
    from greenpipe.pipelines import REFERENCE_PIPELINES

    return sorted(REFERENCE_PIPELINES)


@pytest.mark.parametrize("name", _reference_names())
def test_reference_pipeline_compiles_strictly_and_deterministically(tmp_path, name):
    from greenpipe.loader import load_pipeline

    first, second = tmp_path / "1.yaml", tmp_path / "2.yaml"
    compile_pipeline(load_pipeline(name), first)
    compile_pipeline(load_pipeline(name), second)
    parse_strict(first)
    assert first.read_bytes() == second.read_bytes()


# Metrics that measure this machine (seconds, energy) differ between any two runs; all others must be equal.
MEASURED = ("_s", "_wh", "_kwh")


def _run_pipeline_under_kfp_local(pipe, params: dict, root: Path) -> dict[str, Path]:
    """Run the compiled pipeline under kfp.local; the folder of every task that ran, by KFP task name."""
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root), raise_on_error=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "image has no 'python' in its name": we run in-process
        pipeline_component(pipe, params, local_conditions=True)()
    return {p.parent.name: p.parent for p in root.glob("*/*/executor_output.json")}


def assert_kfp_local_matches_the_local_runner(pipe, result, store, kfp_tasks: dict[str, Path]) -> int:
    """Every task the local runner ran also ran under kfp.local and returned the same values, every skipped one
    was skipped, and every Metrics output holds the same numbers (measured seconds and energy: present).
    Returns how many Metrics outputs were compared."""
    assert result.status == "succeeded"
    graph = pipe.build()
    ran = {s.name.replace("_", "-"): s for s in result.steps if s.status == "ran"}
    assert all(s.status in ("ran", "skipped") for s in result.steps), [(s.name, s.status) for s in result.steps]
    steps_run_by_kfp = {t for t in kfp_tasks if not t.startswith("greenpipe-when")}  # when() helpers
    assert steps_run_by_kfp == set(ran)
    compared = 0
    for kfp_name, step in ran.items():
        executor_output = json.loads((kfp_tasks[kfp_name] / "executor_output.json").read_text())
        assert executor_output.get("parameterValues", {}) == step.values, step.name
        kinds = {o.name: o.kind for o in graph.task(step.name).step.spec.outputs}
        for output, digest in step.outputs.items():
            if kinds[output] != "metrics":
                continue
            got = json.loads((kfp_tasks[kfp_name] / output).read_text())
            expected = json.loads(store.object_path(digest).read_text())
            assert set(got) == set(expected), step.name
            for metric, value in expected.items():
                if metric.endswith(MEASURED):
                    assert math.isfinite(got[metric]) and got[metric] >= 0, f"{step.name}.{metric}"
                else:
                    assert got[metric] == value, f"{step.name}.{metric}"
            compared += 1
    return compared


def test_demo_pipeline_runs_under_kfp_local_with_the_local_runners_results(tmp_path, monkeypatch):
    """A small real pipeline with a when() block and a Model folder passed on: same tasks, values, metrics."""
    monkeypatch.setenv("GREENPIPE_HOME", str(tmp_path / "kfp-home"))  # inherited by kfp.local's subprocesses
    monkeypatch.setenv("PYTHONPATH", str(Path(demo_steps.__file__).parent))
    store = Store(tmp_path / "store")
    result = Runner(demo_steps.demo, {}, store=store).run()
    kfp_tasks = _run_pipeline_under_kfp_local(demo_steps.demo, {}, tmp_path / "kfp")
    assert {"fit", "evaluate-classifier"} <= set(kfp_tasks)
    assert assert_kfp_local_matches_the_local_runner(demo_steps.demo, result, store, kfp_tasks) == 2


# Smaller than the defaults so the runs stay short; the comparison is the same at any size.
TRAIN_PARAMS = {"periods": 6, "max_trials": 3, "max_epochs": 5}
RETRAIN_PARAMS = {"period": 6, "max_epochs": 5, "kpi_floor": 0.0}  # the next period; drift alone decides


@pytest.mark.slow
def test_reference_train_runs_under_kfp_local_with_the_local_runners_results(tmp_path, monkeypatch):
    from greenpipe.loader import load_pipeline

    monkeypatch.setenv("GREENPIPE_HOME", str(tmp_path / "kfp-home"))  # register and feature_dedup write here
    monkeypatch.setenv("GREENPIPE_SHARED", "home")  # every task's store is that one folder: it is the shared state
    pipe = load_pipeline("train")
    store = Store(tmp_path / "store")
    result = Runner(pipe, TRAIN_PARAMS, store=store).run()
    kfp_tasks = _run_pipeline_under_kfp_local(pipe, TRAIN_PARAMS, tmp_path / "kfp")
    assert assert_kfp_local_matches_the_local_runner(pipe, result, store, kfp_tasks) >= 3
    assert json.loads((kfp_tasks["register"] / "executor_output.json").read_text())["parameterValues"]["promoted"]


@pytest.fixture(scope="module")
def trained_home(tmp_path_factory) -> Path:
    """A store in which the reference train (run by the local runner) registered a champion."""
    from greenpipe.loader import load_pipeline

    home = tmp_path_factory.mktemp("trained") / "home"
    result = Runner(load_pipeline("train"), TRAIN_PARAMS, store=Store(home)).run()
    assert result.status == "succeeded"
    return home


@pytest.mark.slow
@pytest.mark.parametrize("drift_share, retrains", [(0.1, True), (0.5, False)])
def test_reference_retrain_runs_under_kfp_local_with_the_local_runners_results(
    tmp_path, monkeypatch, trained_home, drift_share, retrains
):
    """retrain's champion step reads the registry in GREENPIPE_HOME: both runs start from copies of the same
    trained store, the local runner re-executes every step (no cache hits from train), and both take the same
    when(gate.retrain) branch with the same values and metrics."""
    from greenpipe.loader import load_pipeline

    pipe, params = load_pipeline("retrain"), {**RETRAIN_PARAMS, "drift_share": drift_share}
    local_home, kfp_home = tmp_path / "local-home", tmp_path / "kfp-home"
    shutil.copytree(trained_home, local_home)
    shutil.copytree(trained_home, kfp_home)
    monkeypatch.setenv("GREENPIPE_HOME", str(kfp_home))  # inherited by kfp.local's subprocesses
    monkeypatch.setenv("GREENPIPE_SHARED", "home")  # every task's store is that one folder: it is the shared state
    store = Store(local_home)
    graph = pipe.build()
    result = Runner(pipe, params, store=store, force=[t.name for t in graph.tasks]).run()
    assert result.step("drift_gate").values["retrain"] is retrains
    assert (result.step("register").status == "ran") is retrains
    kfp_tasks = _run_pipeline_under_kfp_local(pipe, params, tmp_path / "kfp")
    compared = assert_kfp_local_matches_the_local_runner(pipe, result, store, kfp_tasks)
    assert compared == (2 if retrains else 0)  # spot_train's and evaluate_classifier's metrics
    champion = json.loads((kfp_tasks["champion"] / "executor_output.json").read_text())["parameterValues"]
    assert champion == {"version": 1}  # the version train registered, found through GREENPIPE_HOME

"""Code travels on KFP: compiling with a code root uploads the user's code archive there once, each task that
reaches it fetches and checks it, and under kfp.local the pipeline runs with the user's package absent from the
task processes' environment, giving the local runner's bytes."""

import json
import warnings

import pytest
import yaml
from user_project import PACKAGE, import_project, write_project

from greenpipe.digest import digest_path
from greenpipe.runner import Runner
from greenpipe.store import Store

local = pytest.importorskip("kfp.local")
from greenpipe.backends.kfp import compile_pipeline, pipeline_component  # noqa: E402


@pytest.fixture
def user_steps(tmp_path, monkeypatch):
    monkeypatch.delenv("PYTHONPATH", raising=False)  # the task subprocesses cannot import the user's package
    monkeypatch.setenv("GREENPIPE_HOME", str(tmp_path / "task-home"))
    steps = import_project(write_project(tmp_path / "project"))
    data = tmp_path / "values.json"
    data.write_text("[1, 2.5, 4]")
    return steps, data


def run_under_kfp_local(pipe, params, root, code_root):
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root), raise_on_error=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "image has no 'python' in its name": we run in-process
        pipeline_component(pipe, params, local_conditions=True, code_root=code_root)()
    return {p.parent.name: p.parent for p in root.glob("*/*/executor_output.json")}


def test_kfp_local_runs_the_user_steps_from_the_archive_and_matches_the_local_runner(tmp_path, user_steps):
    steps, data = user_steps
    params = {"src": str(data), "factor": 3.0}
    with pytest.raises(RuntimeError):  # without the archive the tasks cannot find the user's steps
        run_under_kfp_local(steps.travel, params, tmp_path / "bare", None)
    root = tmp_path / "root"
    tasks = run_under_kfp_local(steps.travel, params, root, str(root))
    archives = list((root / "code").glob("*.tar.gz"))
    assert len(archives) == 1
    result = Runner(steps.travel, params, store=Store(tmp_path / "local")).run()
    assert result.status == "succeeded" and set(tasks) == {"scale", "total"}
    for step in result.steps:
        assert digest_path(tasks[step.name] / "out") == step.outputs["out"], step.name
    assert json.loads((tasks["total"] / "out").read_text()) == {"total": 52.5}


def test_compiled_yaml_names_the_archive_and_fingerprint_and_compiles_to_the_same_bytes(tmp_path, user_steps):
    steps, data = user_steps
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    code_root = tmp_path / "root"
    compile_pipeline(steps.travel, first, {"src": str(data)}, code_root=str(code_root))
    compile_pipeline(steps.travel, second, {"src": str(data)}, code_root=str(code_root))
    assert first.read_bytes() == second.read_bytes()
    archive = next((code_root / "code").glob("*.tar.gz"))
    executors = yaml.safe_load(first.read_text())["deploymentSpec"]["executors"]
    envs = {
        name: {e["name"]: e["value"] for e in ex.get("container", {}).get("env", [])} for name, ex in executors.items()
    }
    scale = next(env for name, env in envs.items() if "scale" in name)
    assert scale["GREENPIPE_CODE_URI"] == str(archive)
    assert scale["GREENPIPE_FINGERPRINT"] == steps.scale.fingerprint().digest
    assert PACKAGE in {m.split("/")[0] for m in __import__("tarfile").open(archive).getnames()}
    staged = code_root / "objects" / digest_path(data).split(":")[1] / "values.json"
    assert staged.read_bytes() == data.read_bytes() and str(staged) in first.read_text()
    assert str(data) not in first.read_text()  # the laptop's path is not what the cluster reads


def test_compile_stage_ships_a_pipeline_script_and_its_helper_module(cli, tmp_path):
    root = tmp_path / "root"
    cli("compile", "pipe.py:demo", "--target", "kfp", "--out", str(tmp_path / "p.yaml"), "--stage", str(root))
    archive = next((root / "code").glob("*.tar.gz"))
    import tarfile

    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert {"pipe.py", "helpers.py", "greenpipe-code.json"} <= names
    assert str(archive) in (tmp_path / "p.yaml").read_text()
    again = cli("compile", "pipe.py:demo", "--target", "sagemaker", "--out", str(tmp_path / "d.json"),
                "--stage", str(root), check=False)  # fmt: skip
    assert again.returncode == 2 and "`greenpipe deploy` uploads the code" in again.stderr

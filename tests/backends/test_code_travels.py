"""The user's code travels: a content-addressed archive of what the steps reach, fetched and checked by the
container entry point in a process where the user's package is not installed."""

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from user_project import FILES, PACKAGE, import_project, write_project

from greenpipe.backends.code_archive import MANIFEST, build_archive
from greenpipe.backends.code_fetch import check_code
from greenpipe.digest import digest_hex, digest_path
from greenpipe.errors import GreenpipeError
from greenpipe.runner import Runner
from greenpipe.store import Store

FILES_HELPERS = FILES["helpers.py"]


def archive_members(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


def test_archive_holds_the_project_package_and_is_the_same_bytes_when_rebuilt(tmp_path):
    steps = import_project(write_project(tmp_path / "a"))
    first = build_archive([steps.scale, steps.total])
    again = build_archive([import_project(write_project(tmp_path / "b")).scale, steps.total])
    assert first is not None and again is not None
    assert first.roots == (PACKAGE,)
    assert first.data == again.data and first.digest == again.digest  # other folder, other mtimes: same bytes
    members = archive_members(first.data)
    assert {f"{PACKAGE}/helpers.py", f"{PACKAGE}/steps.py", f"{PACKAGE}/__init__.py", MANIFEST} <= set(members)
    manifest = json.loads(members[MANIFEST])
    assert manifest["steps"][f"{PACKAGE}.steps:scale"]["digest"] == steps.scale.fingerprint().digest
    assert first.key("greenpipe") == f"greenpipe/code/{digest_hex(first.digest)}.tar.gz"


def test_editing_a_helper_changes_the_archive_and_the_steps_that_reach_it(tmp_path):
    old = import_project(write_project(tmp_path / "old"))
    old_archive = build_archive([old.scale])
    new = import_project(write_project(tmp_path / "new", {"helpers.py": FILES_HELPERS.replace("10", "11")}))
    new_archive = build_archive([new.scale])
    assert old_archive.digest != new_archive.digest
    assert old_archive.fingerprints[f"{PACKAGE}.steps:scale"] != new_archive.fingerprints[f"{PACKAGE}.steps:scale"]


def test_steps_that_reach_only_greenpipe_need_no_archive():
    from greenpipe.components.drift_gate import drift_gate

    assert build_archive([drift_gate]) is None


def test_a_step_whose_code_differs_from_the_archive_is_refused_by_name(tmp_path):
    old = import_project(write_project(tmp_path / "old"))
    manifest = json.loads(archive_members(build_archive([old.scale]).data)[MANIFEST])
    new = import_project(write_project(tmp_path / "new", {"helpers.py": FILES_HELPERS.replace("10", "11")}))
    with pytest.raises(GreenpipeError, match=r"differs from the code it was compiled from in .*helpers"):
        check_code(new.scale, manifest, environ={})
    with pytest.raises(GreenpipeError, match="expects code fingerprint fp:other"):
        check_code(old.scale, manifest, environ={"GREENPIPE_FINGERPRINT": "fp:other"})
    assert check_code(old.scale, manifest, environ={"GREENPIPE_FINGERPRINT": old.scale.fingerprint().digest}) == []
    # a step the archive does not list (a tuning job's trial, which imports user code by name) is checked
    # against the job's fingerprint alone
    assert check_code(old.total, manifest, environ={"GREENPIPE_FINGERPRINT": old.total.fingerprint().digest}) == []
    with pytest.raises(GreenpipeError, match="not the fp:other the job was compiled with"):
        check_code(old.total, manifest, environ={"GREENPIPE_FINGERPRINT": "fp:other"})


def test_a_code_archive_staged_to_gcs_is_fetched_and_checked(tmp_path, gcs_emulator, monkeypatch):
    """A gs:// pipeline root through google-cloud-storage (against the tests' GCS emulator, not GCS)."""
    from greenpipe.backends.code_fetch import fetch_code
    from greenpipe.backends.kfp_staging import ship_code

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator.url)
    steps = import_project(write_project(tmp_path / "project"))
    uri, needing = ship_code(steps.travel.build().tasks, "gs://gp-code/team")
    assert uri.startswith("gs://gp-code/team/code/") and f"{PACKAGE}.steps:scale" in needing
    folder = fetch_code(uri, tmp_path / "cache")
    assert (folder / MANIFEST).is_file() and (folder / PACKAGE / "helpers.py").read_text() == FILES_HELPERS
    with pytest.raises(GreenpipeError, match="does not exist"):
        fetch_code(f"gs://gp-code/team/code/{'0' * 64}.tar.gz", tmp_path / "cache-2")


@pytest.fixture
def shipped(tmp_path):
    """The project, its archive saved as <store>/code/<hex>.tar.gz, an input file and the local runner's result."""
    project = write_project(tmp_path / "project")
    steps = import_project(project)
    archive = build_archive([steps.scale, steps.total])
    store_root = tmp_path / "objects"
    path = store_root / archive.key("greenpipe")
    path.parent.mkdir(parents=True)
    path.write_bytes(archive.data)
    data = tmp_path / "values.json"
    data.write_text("[1, 2.5, 4]")
    local = Runner(steps.travel, {"src": str(data), "factor": 3.0}, store=Store(tmp_path / "local")).run()
    assert local.status == "succeeded"
    return {"steps": steps, "archive": path, "data": data, "local": local, "tmp": tmp_path}


def entry_point(tmp: Path, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """`python -m greenpipe.run` as a container runs it: the user's package is NOT importable (no PYTHONPATH,
    an empty working folder)."""
    work = tmp / "container"
    work.mkdir(exist_ok=True)
    base = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("GREENPIPE_")}
    base["GREENPIPE_HOME"] = str(tmp / "container-home")
    return subprocess.run(
        [sys.executable, "-m", "greenpipe.run", *args],
        env={**base, **env},
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_entry_point_runs_a_user_step_from_the_archive_and_matches_the_local_runner(shipped):
    tmp, steps = shipped["tmp"], shipped["steps"]
    out = tmp / "out.json"
    args = [f"{PACKAGE}.steps:scale", "--input", f"data={shipped['data']}", "--output", f"out={out}"]
    args += ["--param", "factor=3.0"]
    absent = entry_point(tmp, args, {})
    assert absent.returncode == 2 and f"no module {PACKAGE}.steps" in absent.stderr  # not installed here
    env = {
        "GREENPIPE_CODE_URI": f"file://{shipped['archive']}",
        "GREENPIPE_FINGERPRINT": steps.scale.fingerprint().digest,
    }
    proc = entry_point(tmp, args, env)
    assert proc.returncode == 0, proc.stderr
    local = {s.name: s for s in shipped["local"].steps}
    assert digest_path(out) == local["scale"].outputs["out"]
    assert json.loads(out.read_text()) == [13.0, 17.5, 22.0]


def test_a_changed_archive_or_a_stale_fingerprint_fails_with_one_clear_message(shipped):
    tmp, steps = shipped["tmp"], shipped["steps"]
    args = [f"{PACKAGE}.steps:scale", "--input", f"data={shipped['data']}", "--output", f"out={tmp / 'o.json'}"]
    stale = entry_point(
        tmp, args, {"GREENPIPE_CODE_URI": str(shipped["archive"]), "GREENPIPE_FINGERPRINT": "fp:" + "0" * 32}
    )
    assert stale.returncode == 2 and "Traceback" not in stale.stderr
    assert f"the job expects code fingerprint fp:{'0' * 32}" in stale.stderr
    tampered = shipped["archive"].read_bytes()[:-8] + b"\0" * 8
    shipped["archive"].write_bytes(tampered)
    env = {"GREENPIPE_CODE_URI": str(shipped["archive"]), "GREENPIPE_FINGERPRINT": steps.scale.fingerprint().digest}
    proc = entry_point(tmp, args, {**env, "GREENPIPE_HOME": str(tmp / "other-home")})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "its content digest is" in proc.stderr and "was changed after deploy" in proc.stderr
    missing = entry_point(tmp, args, {**env, "GREENPIPE_CODE_URI": str(tmp / "code" / "abc.tar.gz")})
    assert missing.returncode == 2 and "does not exist" in missing.stderr


EXTRA_PYPROJECT = """[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "gp-travel-extra"
version = "0.1.0"

[tool.setuptools]
py-modules = ["gp_travel_extra"]
"""


def wheel_of_a_requirement(tmp: Path) -> Path:
    """A local wheel of a tiny third-party package, `gp-travel-extra`, for installing without a network."""
    source = tmp / "extra-src"
    source.mkdir()
    (source / "pyproject.toml").write_text(EXTRA_PYPROJECT)
    (source / "gp_travel_extra.py").write_text("OFFSET = 100\n")
    wheels = tmp / "wheels"
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels)]
    subprocess.run([*command, str(source)], check=True, capture_output=True)
    return wheels


NEEDS_EXTRA = {
    "helpers.py": '''"""Helpers that need a third-party package the image lacks."""


def transform(values, factor):
    from gp_travel_extra import OFFSET

    return [round(v * factor + OFFSET, 6) for v in values]
'''
}


def test_the_project_requirements_travel_and_a_missing_one_is_installed_or_named(tmp_path):
    project = write_project(tmp_path / "project", NEEDS_EXTRA)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "gp-travel-proj"\nversion = "0.1.0"\n'
        'dependencies = ["greenpipe>=0.1", "gp-travel-extra==0.1.0", "numpy>=1"]\n'
    )
    steps = import_project(project)
    archive = build_archive([steps.scale])
    manifest = json.loads(archive_members(archive.data)[MANIFEST])
    assert manifest["requirements"] == ["gp-travel-extra==0.1.0", "numpy>=1"]  # greenpipe is the image's
    path = tmp_path / "store" / archive.key("greenpipe")
    path.parent.mkdir(parents=True)
    path.write_bytes(archive.data)
    data = tmp_path / "values.json"
    data.write_text("[1, 2]")
    out = tmp_path / "out.json"
    args = [f"{PACKAGE}.steps:scale", "--input", f"data={data}", "--output", f"out={out}"]
    env = {"GREENPIPE_CODE_URI": str(path), "GREENPIPE_FINGERPRINT": steps.scale.fingerprint().digest}

    offline = entry_point(tmp_path, args, {**env, "GREENPIPE_PIP_ARGS": "--no-index"})
    assert offline.returncode == 2 and "Traceback" not in offline.stderr
    assert "the step needs gp-travel-extra==0.1.0, which the image lacks, and pip could not install it" in (
        offline.stderr
    )
    assert "numpy" not in offline.stderr.split("the step needs")[1].split("which")[0]  # numpy is there

    wheels = wheel_of_a_requirement(tmp_path)
    proc = entry_point(tmp_path, args, {**env, "GREENPIPE_PIP_ARGS": f"--no-index --find-links {wheels}"})
    assert proc.returncode == 0, proc.stderr
    assert "greenpipe: installed gp-travel-extra==0.1.0" in proc.stderr
    assert json.loads(out.read_text()) == [102.0, 104.0]


def test_user_code_named_by_a_coderef_param_travels_with_the_step_that_imports_it(tmp_path):
    from greenpipe import Dataset, pipeline
    from greenpipe.backends.code_archive import archive_for_tasks
    from greenpipe.components.spot_train import spot_train

    import_project(write_project(tmp_path / "project"))

    @pipeline
    def fit_user_estimator(src: Dataset) -> None:
        spot_train(data=src, target="y", estimator=f"{PACKAGE}.helpers:transform")

    archive = archive_for_tasks(fit_user_estimator.build().tasks)
    assert archive is not None and archive.roots == (PACKAGE,)
    assert f"{PACKAGE}/helpers.py" in archive_members(archive.data)
    assert set(archive.fingerprints) == {spot_train.spec.ref}  # so the job gets GREENPIPE_CODE_URI

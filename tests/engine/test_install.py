"""components/ and pipelines/ ship inside the package as greenpipe.components and greenpipe.pipelines,
both from a wheel (`pip install .`) and from an editable install (`pip install -e .`)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COMPONENTS = ["feature_dedup", "small_sample", "spot_train", "bayes_tune", "drift_gate", "register"]


def test_editable_install_maps_components_and_pipelines_to_the_checkout():
    import greenpipe.components
    import greenpipe.pipelines

    assert Path(greenpipe.__file__).resolve().parent == REPO / "greenpipe"
    assert Path(greenpipe.components.__file__).resolve() == REPO / "components" / "__init__.py"
    assert Path(greenpipe.pipelines.__file__).resolve() == REPO / "pipelines" / "__init__.py"


@pytest.mark.slow
def test_wheel_ships_components_pipelines_and_data(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
    )
    wheel = next(tmp_path.glob("greenpipe-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for component in COMPONENTS:
        assert f"greenpipe/components/{component}/__init__.py" in names
        assert f"greenpipe/components/{component}/README.md" in names
    assert "greenpipe/pipelines/train.py" in names
    assert "greenpipe/data/grid_intensity.json" in names
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)], check=True
    )
    probe = (
        "import greenpipe, greenpipe.components, greenpipe.pipelines.train as t, greenpipe.ledger as l;"
        "print(greenpipe.__file__); print(greenpipe.components.__file__); print(t.train.name);"
        "print(l.grid_intensity('eu-north-1').g_per_kwh)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout.split()
    assert out[0].startswith(str(target)) and out[1].startswith(str(target))
    assert out[2] == "train" and float(out[3]) > 0


def test_import_greenpipe_stays_light():
    probe = (
        "import sys, greenpipe; heavy = {'pandas', 'sklearn', 'kfp', 'sagemaker', 'optuna', 'torch'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# -- documented installs, as written, in a fresh virtualenv -----------------------------------------------------------

EXTRA_PROBES = {
    "kfp": "import kfp, kfp.kubernetes",
    "sagemaker": "import s3fs, boto3; import sagemaker.core",
    "codecarbon": "import codecarbon",
    "mlflow": "import mlflow",
    "torch": "import torch; assert torch.version.cuda is None, torch.__version__",
    "docs": "import material",
    "compress": "import skl2onnx, onnxruntime",
}
EXTRA_COMMAND = re.compile(r"^\.venv/bin/pip install -q -e '\.\[(\w+)\]'")


def documented_installs() -> tuple[str, list[str]]:
    """The setup command and the extras the README and docs/ tell a user to install, in shell code blocks."""
    setup, extras = "", []
    for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        blocks = re.findall(r"```(?:bash|sh|console)\n(.*?)```", page.read_text(), re.S)
        for line in (ln.strip() for block in blocks for ln in block.splitlines()):
            if "pip install" not in line:
                continue
            if line.startswith("python3 -m venv .venv"):
                setup = setup or line
                continue
            match = EXTRA_COMMAND.match(line)
            assert match, f"{page.name}: {line!r} is not a documented form the fresh-venv test runs"
            names = [match.group(1)] + re.findall(r"\w+", line.partition("# or ")[2])
            extras += [n for n in names if n not in extras]
    return setup, extras


def test_every_extra_is_documented_with_a_command_that_upgrades_pip_first():
    import tomllib

    setup, extras = documented_installs()
    assert "-m pip install -q --upgrade pip &&" in setup.split("pip install -q -e .")[0]
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert set(extras) == set(declared) - {"test"}


@pytest.mark.slow
def test_documented_installs_work_as_written_in_a_fresh_venv(tmp_path):
    """The README's first command (minus running train), then each documented extra, each as written."""
    setup, extras = documented_installs()
    venv = tmp_path / "venv"
    shell = setup.split(" && .venv/bin/greenpipe run")[0].replace(".venv", str(venv))
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}

    def sh(command: str) -> None:
        proc = subprocess.run(["bash", "-c", command], cwd=REPO, env=env, capture_output=True, text=True, timeout=1800)
        assert proc.returncode == 0, f"{command}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"

    sh(shell)
    sh(f"{venv}/bin/greenpipe --help")
    for extra in extras:
        sh(f".venv/bin/pip install -q -e '.[{extra}]'".replace(".venv", str(venv)))
        sh(f"{venv}/bin/python -c '{EXTRA_PROBES[extra]}'")
    listed = subprocess.run(
        [str(venv / "bin/python"), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True, check=True
    ).stdout
    names = [line.split("==")[0].lower() for line in listed.splitlines()]
    cuda = [n for n in names if n.startswith(("nvidia-", "cuda-", "triton")) and n != "nvidia-ml-py"]
    assert cuda == [], f"the torch extra pulled a CUDA build: {cuda}"

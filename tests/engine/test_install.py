"""components/ and pipelines/ ship inside the package as greenpipe.components and greenpipe.pipelines,
both from a wheel (`pip install .`) and from an editable install (`pip install -e .`)."""

from __future__ import annotations

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

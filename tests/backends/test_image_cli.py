"""`greenpipe image mirror | build`: the commands that put the greenpipe image where SageMaker can pull it, and
an image tagged by the project's requirements. No Docker daemon runs here: the commands are checked as printed
(--dry-run), and without the tools on PATH the user gets them to run elsewhere, not a traceback."""

import os
import subprocess
import sys

import greenpipe
from greenpipe.backends.image_cli import requirements_tag

ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/greenpipe"


def greenpipe_cli(*args, path=None, cwd=None):
    env = {k: v for k, v in os.environ.items() if k != "GREENPIPE_IMAGE"}
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [sys.executable, "-m", "greenpipe.cli", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=60
    )


def test_mirror_copies_this_versions_public_image_into_the_ecr_repository():
    proc = greenpipe_cli("image", "mirror", "--to", ECR, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    version = greenpipe.__version__
    assert f"docker pull public.ecr.aws/greenpipe/greenpipe:{version}" in lines
    assert f"docker push {ECR}:{version}" in lines
    assert any("aws ecr get-login-password --region eu-west-1 | docker login" in line for line in lines)
    assert lines[-1].startswith(f"image: {ECR}:{version}")


def test_mirror_refuses_a_repository_sagemaker_cannot_pull_from_and_says_what_to_run_without_docker(tmp_path):
    wrong = greenpipe_cli("image", "mirror", "--to", "ghcr.io/me/greenpipe")
    assert wrong.returncode == 2 and "is not an ECR repository" in wrong.stderr
    empty = tmp_path / "bin"
    empty.mkdir()
    bare = greenpipe_cli("image", "mirror", "--to", ECR, path=str(empty))
    assert bare.returncode == 2 and "Traceback" not in bare.stderr
    assert "aws and docker not found on PATH" in bare.stderr and f"docker push {ECR}" in bare.stderr


def test_build_tags_by_the_requirements_so_unchanged_ones_reuse_the_image(tmp_path):
    project = tmp_path / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "proj"\nversion = "0.1.0"\ndependencies = ["greenpipe>=0.1", "lightgbm>=4", "polars"]\n'
    )
    proc = greenpipe_cli("image", "build", str(project), "--push", ECR, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "RUN pip install --no-cache-dir 'lightgbm>=4' polars" in proc.stdout and "greenpipe>=" not in proc.stdout
    tag = requirements_tag(ECR, f"ghcr.io/greenpipe/greenpipe:{greenpipe.__version__}", ["polars", "lightgbm>=4"])
    assert f"docker push {tag}" in proc.stdout and tag.startswith(f"{ECR}:{greenpipe.__version__}-req-")
    assert requirements_tag(ECR, "b", ["x", "y"]) == requirements_tag(ECR, "b", ["y", "x"])
    assert requirements_tag(ECR, "b", ["x"]) != requirements_tag(ECR, "b", ["x==2"])
    nothing = greenpipe_cli("image", "build", str(tmp_path))
    assert nothing.returncode == 2 and "no pyproject.toml or requirements.txt" in nothing.stderr

"""`greenpipe image mirror --to REPO` and `greenpipe image build [PROJECT] [--push REPO]`.

mirror copies this version's public greenpipe image into a private ECR repository (SageMaker pulls only from
ECR). build bakes a project's third-party requirements into an image FROM the greenpipe image, tagged by the
hash of the requirements and the base, so it is rebuilt only when they change; steps then need not install
them at start. Both drive the `docker` CLI (and `aws` for the ECR login); `--dry-run` prints the commands.
"""

from __future__ import annotations

import argparse
import hashlib
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from greenpipe import __version__
from greenpipe.backends.image import ECR_IMAGE, PUBLIC_ECR_REPOSITORY, default_image, mirror_commands
from greenpipe.errors import GreenpipeError


def add_image_command(sub: Any) -> None:
    """Register `greenpipe image` on the CLI's subparsers."""
    image = sub.add_parser("image", help="copy the greenpipe image into ECR, or bake a project's requirements")
    actions = image.add_subparsers(dest="image_command", required=True)
    mirror = actions.add_parser("mirror", help="copy the public greenpipe image into a private ECR repository")
    mirror.add_argument("--to", required=True, metavar="REPO", help="ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME")
    mirror.add_argument("--dry-run", action="store_true", help="print the commands instead of running them")
    mirror.set_defaults(handler=_cmd_mirror)
    build = actions.add_parser("build", help="an image FROM the greenpipe image with the project's requirements")
    build.add_argument("project", nargs="?", default=".", help="the project folder (its pyproject.toml)")
    build.add_argument("--base", help="the image to build FROM (default: the greenpipe image of this version)")
    build.add_argument("--push", metavar="REPO", help="push to this repository (e.g. your ECR repository)")
    build.add_argument("--dry-run", action="store_true", help="print the Dockerfile and commands only")
    build.set_defaults(handler=_cmd_build)


def _cmd_mirror(args: argparse.Namespace) -> int:
    repo = args.to.rsplit(":", 1)[0] if args.to.count(":") else args.to
    if not ECR_IMAGE.fullmatch(repo):
        raise GreenpipeError(
            f"--to {args.to!r} is not an ECR repository: pass ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME"
        )
    commands = mirror_commands(repo)
    _run(commands, args.dry_run)
    print(f"image: {repo}:{__version__} (pass it as --image or GREENPIPE_IMAGE)")
    return 0


def requirements_tag(repository: str, base: str, requirements: list[str]) -> str:
    """`REPO:<greenpipe version>-req-<hash>`: the same requirements on the same base give the same tag."""
    key = hashlib.sha256("\n".join([base, *sorted(requirements)]).encode()).hexdigest()[:12]
    return f"{repository}:{__version__}-req-{key}"


def dockerfile(base: str, requirements: list[str]) -> str:
    """A Dockerfile that adds `requirements` to `base` (the project itself travels as a code archive)."""
    quoted = " ".join(shlex.quote(r) for r in sorted(requirements))
    return f"FROM {base}\nRUN pip install --no-cache-dir {quoted}\n"


def _cmd_build(args: argparse.Namespace) -> int:
    from greenpipe.backends.code_requirements import project_requirements

    project = Path(args.project)
    if not (project / "pyproject.toml").is_file() and not (project / "requirements.txt").is_file():
        raise GreenpipeError(f"{project}: no pyproject.toml or requirements.txt to read requirements from")
    requirements = project_requirements(project)
    base = args.base or default_image()
    if not requirements:
        print(f"{project} declares no requirements besides greenpipe: use {base} as it is")
        return 0
    tag = requirements_tag(args.push or "greenpipe-project", base, requirements)
    text = dockerfile(base, requirements)

    def commands(path: str) -> list[str]:
        build = [f"docker build -t {tag} -f {shlex.quote(path)} {shlex.quote(str(project))}"]
        return build + ([f"docker push {tag}"] if args.push else [])

    if args.dry_run:
        print(f"# Dockerfile\n{text}")
        _run(commands("Dockerfile"), dry_run=True)
    else:
        with tempfile.TemporaryDirectory(prefix="greenpipe-image-") as folder:
            (Path(folder) / "Dockerfile").write_text(text)
            _run(commands(str(Path(folder) / "Dockerfile")))
    print(f"image: {tag} (pass it as --image or GREENPIPE_IMAGE)")
    return 0


def _run(commands: list[str], dry_run: bool = False) -> None:
    if dry_run:
        print("\n".join(commands))
        return
    missing = sorted({c.split()[0] for c in commands if shutil.which(c.split()[0]) is None})
    if missing:
        raise GreenpipeError(
            f"{' and '.join(missing)} not found on PATH: install it, or run these commands where it is:\n  "
            + "\n  ".join(commands)
        )
    for command in commands:
        print(f"$ {command}", flush=True)
        if subprocess.run(command, shell=True).returncode != 0:  # noqa: S602 - our own commands, quoted above
            raise GreenpipeError(f"`{command}` failed (its output is above); fix that and run it again")


__all__ = ["PUBLIC_ECR_REPOSITORY", "add_image_command", "dockerfile", "requirements_tag"]

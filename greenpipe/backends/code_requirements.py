"""The third-party requirements of the user's code: read from the project when it is packed, installed at step
start when the image lacks them.

Compile side: the requirements are the `[project] dependencies` of the pyproject.toml next to (or above) the
packed package, else its requirements.txt; greenpipe itself is left out (the image has it). Run side: each one
the image does not satisfy is installed with pip into a folder under GREENPIPE_HOME keyed by the list, which is
put on sys.path; GREENPIPE_PIP_ARGS adds pip options (an index, `--no-index --find-links DIR` offline). A
requirement pip cannot install fails the step with one message naming it and how to bake it into the image.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

from greenpipe.errors import GreenpipeError

SEARCH_DEPTH = 3  # folders above a package where its pyproject.toml may live (src/ layouts: two)
PIP_ARGS_ENV = "GREENPIPE_PIP_ARGS"


def project_requirements(source: Path) -> list[str]:
    """The requirements declared for the package folder or module file `source`, sorted; [] if none found."""
    folder = source if source.is_dir() else source.parent
    for candidate in [folder, *list(folder.parents)[:SEARCH_DEPTH]]:
        pyproject = candidate / "pyproject.toml"
        if pyproject.is_file():
            with open(pyproject, "rb") as handle:
                deps = tomllib.load(handle).get("project", {}).get("dependencies", [])
            return sorted(d for d in deps if _name(d) != "greenpipe")
        requirements = candidate / "requirements.txt"
        if requirements.is_file():
            lines = [line.split("#")[0].strip() for line in requirements.read_text().splitlines()]
            return sorted(x for x in lines if x and not x.startswith("-") and _name(x) != "greenpipe")
    return []


def _name(requirement: str) -> str:
    from packaging.requirements import Requirement

    return Requirement(requirement).name.lower().replace("_", "-")


def missing(requirements: list[str]) -> list[str]:
    """The requirements this Python environment does not satisfy (absent, or a version outside the specifier)."""
    from packaging.requirements import Requirement

    out = []
    for text in requirements:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate():
            continue
        try:
            version = importlib.metadata.version(req.name)
        except importlib.metadata.PackageNotFoundError:
            out.append(text)
            continue
        if req.specifier and not req.specifier.contains(version, prereleases=True):
            out.append(text)
    return out


def ensure_requirements(requirements: list[str], cache: Path) -> list[str]:
    """Install what the environment lacks into a folder on sys.path; the requirements that were installed."""
    needed = missing(requirements)
    if not needed:
        return []
    target = cache / hashlib.sha256("\n".join(sorted(needed)).encode()).hexdigest()[:16]
    done = target / ".complete"
    if not done.is_file():
        extra = shlex.split(os.environ.get(PIP_ARGS_ENV, ""))
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        command += ["--target", str(target), *extra, *needed]
        proc = subprocess.run(command, capture_output=True, text=True)
        if proc.returncode != 0:
            reason = (proc.stderr.strip().splitlines() or ["pip failed"])[-1]
            raise GreenpipeError(
                f"the step needs {', '.join(needed)}, which the image lacks, and pip could not install it "
                f"({reason}); bake it into the image (FROM the greenpipe image, RUN pip install "
                f"{' '.join(shlex.quote(n) for n in needed)}) and pass that image with --image"
            )
        done.write_text("\n".join(needed))
    if str(target) not in sys.path:
        sys.path.insert(1, str(target))  # after the code archive, before the image's site-packages
    importlib.invalidate_caches()
    return needed

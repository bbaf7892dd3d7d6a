"""The user's project code that a pipeline's steps reach, as one content-addressed archive.

A step's code fingerprint names every project function, class and constant it reaches (greenpipe.fingerprint).
The modules behind those names, outside greenpipe itself (which the image holds), are the user's code: each
is packed whole, by its top-level package (a folder with its sub-packages) or, for a lone module beside a
pipeline script, by its file. The archive is a gzipped tar with sorted members and zeroed times and owners,
so the same code gives the same bytes and the same digest, and it is stored once under that digest. It also
holds a manifest: for each step it serves, the fingerprint and its parts, which the entry point checks
(greenpipe.backends.code_fetch) before the step runs, and the project's third-party requirements, which it
installs when the image lacks them (greenpipe.backends.code_requirements).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import sys
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from greenpipe.digest import digest_bytes, digest_hex
from greenpipe.errors import CompileError
from greenpipe.step import Step

MANIFEST = "greenpipe-code.json"
SKIPPED_DIRS = {"__pycache__", ".git", ".venv", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".greenpipe"}
SKIPPED_SUFFIXES = (".pyc", ".pyo")
MAX_BYTES = 200 * 1024 * 1024  # a project larger than this is data, not code: stage it as a Dataset


@dataclass(frozen=True)
class CodeArchive:
    """The archive's bytes, its digest, and what it holds."""

    data: bytes
    digest: str
    roots: tuple[str, ...]  # the top-level modules and packages packed, e.g. ("my_project",)
    fingerprints: dict[str, dict[str, Any]] = field(default_factory=dict[str, Any])  # step ref -> {"digest", "parts"}

    def key(self, prefix: str) -> str:
        """The object key under `prefix`: code/<digest hex>.tar.gz."""
        return "/".join(p for p in (prefix.strip("/"), "code", f"{digest_hex(self.digest)}.tar.gz") if p)


def project_roots(step: Step) -> list[str]:
    """The top-level user modules (not greenpipe) whose code `step`'s fingerprint reaches, sorted."""
    return _roots([step.spec.ref.partition(":")[0], *step.fingerprint().parts])


def code_ref_roots(ref: str) -> list[str]:
    """The top-level user modules the code named by a CodeRef value ("pkg.mod:function") reaches."""
    from greenpipe.fingerprint import code_ref_fingerprint

    return _roots([ref.partition(":")[0], *code_ref_fingerprint(ref).parts])


def task_code_refs(task: Any) -> list[str]:
    """The constant CodeRef values a task passes (code its step imports by name at run time)."""
    refs = []
    for spec in task.step.spec.params:
        value = task.params.get(spec.name, None if spec.required else spec.default)
        if spec.code_ref and value is not None:
            refs += [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str) and ":" in v]
    return refs


def _roots(names: list[str]) -> list[str]:
    from greenpipe.fingerprint import _module_kind

    roots: set[str] = set()
    for name in names:
        if name.startswith("pkg:") or name == "python":  # third-party packages and the standard library
            continue
        module = _owning_module(name.removeprefix("const:").removeprefix("module:").split(":")[0])
        if module is None or _module_kind(module) != "project":
            continue
        root = module.split(".")[0]
        if root != "greenpipe":
            roots.add(root)
    return sorted(roots)


def _owning_module(dotted: str) -> str | None:
    """The longest prefix of `dotted` that is an imported module (`pkg.mod.fn.<locals>` -> `pkg.mod`)."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in sys.modules:
            return candidate
    return None


def root_files(root: str) -> list[tuple[str, Path]]:
    """(archive name, file) for every file of the top-level module or package `root`."""
    module = sys.modules.get(root)
    path = getattr(module, "__file__", None)
    if module is None or not path:
        raise CompileError(
            f"code archive: module {root!r} has no source file on disk; steps shipped to a remote runtime must "
            "live in a package or a .py file"
        )
    if root.startswith("greenpipe_user_"):
        raise CompileError(
            f"code archive: the pipeline file behind {root!r} was imported under a made-up name because its "
            "own name clashes with another module; rename the file so `import <name>` finds it"
        )
    file = Path(path).resolve()
    if file.name != "__init__.py":
        return [(file.name, file)]
    folder = file.parent
    out = []
    for current, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.endswith(".egg-info"))
        for name in sorted(files):
            if not name.endswith(SKIPPED_SUFFIXES):
                item = Path(current) / name
                out.append((f"{root}/{item.relative_to(folder).as_posix()}", item))
    return out


def archive_for_tasks(tasks: Iterable[Any]) -> CodeArchive | None:
    """The archive for a pipeline's tasks: the code their steps reach and the code their CodeRef params name."""
    refs: dict[str, list[str]] = {}
    for task in tasks:
        refs.setdefault(task.step.spec.ref, []).extend(task_code_refs(task))
    return build_archive([t.step for t in tasks], refs)


def build_archive(steps: Iterable[Step], code_refs: dict[str, list[str]] | None = None) -> CodeArchive | None:
    """One archive of the user code the given steps reach, and the code their CodeRef values name (code_refs:
    step ref -> values), or None when all of it is greenpipe's."""
    steps = list(steps)
    reached = {s.spec.ref: set(project_roots(s)) for s in steps}
    for ref, values in (code_refs or {}).items():
        reached.setdefault(ref, set()).update(r for value in values for r in code_ref_roots(value))
    roots = sorted(set().union(*reached.values())) if reached else []
    if not roots:
        return None
    from greenpipe.backends.code_requirements import project_requirements

    members: dict[str, bytes] = {}
    requirements: set[str] = set()
    for root in roots:
        files = root_files(root)
        for name, file in files:
            members[name] = file.read_bytes()
        source = files[0][1].parent if "/" in files[0][0] else files[0][1]
        requirements.update(project_requirements(source))
    fingerprints = {
        s.spec.ref: {"digest": s.fingerprint().digest, "parts": s.fingerprint().parts}
        for s in sorted(steps, key=lambda s: s.spec.ref)
        if reached.get(s.spec.ref)
    }
    manifest = {"roots": roots, "steps": fingerprints, "requirements": sorted(requirements)}
    members[MANIFEST] = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode()
    size = sum(len(b) for b in members.values())
    if size > MAX_BYTES:
        raise CompileError(
            f"code archive: {', '.join(roots)} hold {size // 2**20} MiB of files; keep data out of the package "
            "(pass it as a Dataset input) so the code archive stays small"
        )
    data = _tar_gz(members)
    return CodeArchive(data, digest_bytes(data), tuple(roots), fingerprints)


def _tar_gz(members: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(members):
            info = tarfile.TarInfo(name)
            info.size = len(members[name])
            info.mode = 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(members[name]))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, filename="") as gz:
        gz.write(raw.getvalue())
    return out.getvalue()

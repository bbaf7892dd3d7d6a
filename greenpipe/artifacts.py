"""Typed artifacts passed between steps: a file or folder on disk, known by the digest of its content."""

from __future__ import annotations

import json
import os
import tempfile
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

from greenpipe.errors import OutputPathError


class Artifact:
    """A file or folder produced by one step and consumed by others.

    Inside a step, `path` is where to read (an input) or where to write (an output): write a file at
    `path`, or make `path` a folder and write files into it.
    """

    kind = "artifact"

    def __init__(self, path: str | os.PathLike[str], digest: str | None = None, metadata: dict[str, Any] | None = None):
        self.path = str(path)
        self.digest = digest
        self.metadata: dict[str, Any] = dict(metadata or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}(path={self.path!r}, digest={self.digest!r})"

    def __fspath__(self) -> str:
        return self.path


class Dataset(Artifact):
    """Tabular or raw data (Parquet by convention)."""

    kind = "dataset"


class Model(Artifact):
    """A trained model (a file or a folder)."""

    kind = "model"


class Report(Artifact):
    """A human-readable report (HTML, Markdown, PNG)."""

    kind = "report"


class Metrics(Artifact):
    """Named numbers, stored as a JSON object. Each log_metric rewrites the file, so it is never missing."""

    kind = "metrics"

    def log_metric(self, name: str, value: float) -> None:
        """Record one metric and write the file at once (KFP treats a Metrics output with no file as missing)."""
        values = self.values() if os.path.isfile(self.path) else {}
        values[name] = float(value)
        write_json_atomic(self.path, values)

    def values(self) -> dict[str, float]:
        """All metrics recorded so far."""
        with open(self.path, encoding="utf-8") as handle:
            return dict(json.load(handle))


ARTIFACT_KINDS: dict[str, type[Artifact]] = {cls.kind: cls for cls in (Artifact, Dataset, Model, Report, Metrics)}

A = TypeVar("A", bound=Artifact)


OUTPUT_MARK = "greenpipe:output"
Output = Annotated[A, OUTPUT_MARK]
"""Marks a step parameter as an output: `def fit(train: Dataset, model: Output[Model])`.

At run time the step receives an artifact whose `path` does not exist yet; the step writes it. `Output[Model]`
is `Annotated[Model, "greenpipe:output"]`, so a type checker sees the artifact itself (its `path`,
`log_metric`), as kfp does with its own `Output`."""


def output_kind(annotation: Any) -> type[Artifact] | None:
    """The artifact class of an `Output[...]` annotation (read with include_extras=True), else None."""
    if OUTPUT_MARK in getattr(annotation, "__metadata__", ()):
        inner = typing.get_args(annotation)[0]
        if isinstance(inner, type) and issubclass(inner, Artifact):
            return inner
    return None


def write_atomic(path: str | os.PathLike[str], write: Callable[[str], object]) -> Path:
    """Let `write` fill a temporary file next to `path` (keeping its suffix, for writers that look at it),
    then fsync and rename it into place, so a reader never sees half a file. The one atomic writer: every
    other `write_*_atomic` and every component that lets a library write a file goes through it."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}")
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise OutputPathError(f"cannot write {target} ({reason}): make {target.parent} a writable folder") from None
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes 0600; a written artifact is readable like any other file
        os.close(fd)
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, IsADirectoryError):
            raise OutputPathError(f"cannot write {target}: it is a folder; name a file instead") from None
        raise
    return target


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write bytes atomically (see write_atomic)."""
    return write_atomic(path, lambda tmp: Path(tmp).write_bytes(data))


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write text atomically (see write_bytes_atomic)."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> None:
    """Write JSON through a temporary file and a rename, so a reader never sees half a file."""
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True, default=str))

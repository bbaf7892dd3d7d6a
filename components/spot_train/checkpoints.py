"""Checkpoints written atomically with a checksum, so a crash mid-write never hides the previous good one."""

from __future__ import annotations

import hashlib
import os
import pickle
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from greenpipe.artifacts import write_bytes_atomic

MAGIC = b"GPCKPT1\n"
_NAME = re.compile(r"^ckpt-(\d{8})\.pkl$")


class CorruptCheckpoint(Exception):
    """A checkpoint file whose checksum or format does not match (a torn or damaged write)."""


@dataclass
class Loaded:
    step: int
    payload: dict[str, Any]
    path: Path


class CheckpointStore:
    """A folder of `ckpt-<step>.pkl` files: MAGIC + sha256(payload) + pickled payload.

    Keeps the newest `keep` checkpoints plus one pinned step (the best so far), deletes the rest.
    """

    def __init__(self, folder: str | os.PathLike[str], keep: int = 2):
        self.folder = Path(folder)
        self.keep = max(1, keep)
        self.folder.mkdir(parents=True, exist_ok=True)

    def path(self, step: int) -> Path:
        return self.folder / f"ckpt-{step:08d}.pkl"

    def steps(self) -> list[int]:
        """Steps with a checkpoint file, oldest first (valid or not)."""
        found = [int(m.group(1)) for p in self.folder.iterdir() if (m := _NAME.match(p.name))]
        return sorted(found)

    def save(self, step: int, payload: dict[str, Any], pinned: int | None = None) -> Path:
        """Write one checkpoint atomically (temp file, fsync, rename, fsync the folder), then rotate."""
        body = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
        target = write_bytes_atomic(self.path(step), MAGIC + hashlib.sha256(body).digest() + body)
        _fsync_dir(self.folder)
        self.rotate(pinned)
        return target

    def load(self, step: int) -> Loaded:
        path = self.path(step)
        data = path.read_bytes()
        head = len(MAGIC) + 32
        if len(data) < head or not data.startswith(MAGIC):
            raise CorruptCheckpoint(f"{path}: not a greenpipe checkpoint (bad header)")
        body = data[head:]
        if hashlib.sha256(body).digest() != data[len(MAGIC) : head]:
            raise CorruptCheckpoint(f"{path}: checksum mismatch (torn or damaged write)")
        return Loaded(step, pickle.loads(body), path)

    def newest_valid(self) -> tuple[Loaded | None, list[str]]:
        """The newest checkpoint that verifies, and a note for each newer one that did not."""
        skipped: list[str] = []
        for step in reversed(self.steps()):
            try:
                return self.load(step), skipped
            except (CorruptCheckpoint, pickle.UnpicklingError, EOFError) as exc:
                skipped.append(str(exc))
        return None, skipped

    def rotate(self, pinned: int | None = None) -> None:
        steps = self.steps()
        keep = set(steps[-self.keep :])
        if pinned is not None:
            keep.add(pinned)
        for step in steps:
            if step not in keep:
                self.path(step).unlink(missing_ok=True)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

"""Content digests of files and folders (blake3, multi-threaded, memory-mapped)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

try:  # blake3 is a core dependency; sha256 keeps digests working where its wheel is missing
    import blake3 as _blake3
except ImportError:  # pragma: no cover - exercised only without the blake3 wheel
    _blake3 = None  # type: ignore[assignment]

ALGORITHM = "blake3" if _blake3 is not None else "sha256"
_SMALL = 1 << 20  # below 1 MiB, threads and mmap cost more than they save


def digest_file(path: str | os.PathLike[str]) -> str:
    """Digest of one file's bytes, as `algorithm:hex`."""
    size = os.path.getsize(path)
    if _blake3 is not None:
        if size >= _SMALL:
            hasher = _blake3.blake3(max_threads=_blake3.blake3.AUTO)
            hasher.update_mmap(str(path))
        else:
            hasher = _blake3.blake3()
            with open(path, "rb") as handle:
                hasher.update(handle.read())
        return f"blake3:{hasher.hexdigest()}"
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return f"sha256:{sha.hexdigest()}"


def digest_tree(path: str | os.PathLike[str]) -> str:
    """Digest of a folder: its files' relative paths and digests, in sorted order."""
    root = Path(path)
    lines = []
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        lines.append(f"{file.relative_to(root).as_posix()}\0{digest_file(file)}\n")
    return digest_bytes("".join(lines).encode("utf-8"), prefix="tree-")


def digest_path(path: str | os.PathLike[str]) -> str:
    """Digest of a file or a folder."""
    return digest_tree(path) if os.path.isdir(path) else digest_file(path)


def digest_bytes(data: bytes, prefix: str = "") -> str:
    """Digest of bytes in memory."""
    if _blake3 is not None:
        return f"{prefix}blake3:{_blake3.blake3(data).hexdigest()}"
    return f"{prefix}sha256:{hashlib.sha256(data).hexdigest()}"


def digest_hex(digest: str) -> str:
    """The hex part of `algorithm:hex`, used to name stored objects."""
    return digest.rsplit(":", 1)[-1]

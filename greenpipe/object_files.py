"""A stored object's files: made read-only once stored, symbolic links replaced by copies, sized, removed."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from greenpipe.errors import StoreError


def copy_links_in(path: Path) -> None:
    """Replace every symbolic link at or under `path` by a copy of its target."""
    links = [path] if path.is_symlink() else []
    if not links and path.is_dir():
        links = [Path(root) / name for root, dirs, files in os.walk(path) for name in dirs + files]
        links = [link for link in links if link.is_symlink()]
    for link in links:
        target = link.resolve()
        if not target.exists():
            raise StoreError(
                f"step output {link} is a symbolic link to {target}, which does not exist: write the output's "
                "content itself (greenpipe stores a copy of what a link points to)"
            )
        link.unlink()
        if target.is_dir():
            shutil.copytree(target, link, symlinks=False)
        else:
            shutil.copy2(target, link)


def make_read_only(path: Path) -> None:
    paths = [path] + (list(path.rglob("*")) if path.is_dir() else [])
    for item in paths:
        if item.is_file():
            item.chmod(0o444)


def remove_object(path: Path) -> None:
    """Delete a stored object (read-only files and folders) or an output being written."""
    if path.is_dir():
        for item in path.rglob("*"):
            if item.is_file():
                item.chmod(0o644)
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def size_of(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size

"""What travels to a KFP pipeline root at compile time (`--stage ROOT`): the user's code archive and local inputs.

ROOT is the pipeline root: s3://bucket/prefix (AWS, or MinIO through AWS_ENDPOINT_URL) or a local folder
(kfp.local). Both go to content-addressed keys (greenpipe.backends.staging), uploaded once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any


def ship_code(tasks: Iterable[Any], root: str) -> tuple[str | None, frozenset[str]]:
    """Upload the user code the tasks reach to `root` (once per content); its URI and the steps that need it."""
    from greenpipe.backends.code_archive import archive_for_tasks
    from greenpipe.backends.staging import object_store, stage_bytes

    archive = archive_for_tasks(tasks)
    if archive is None:
        return None, frozenset()
    store, prefix = object_store(root)
    key = archive.key(prefix)
    stage_bytes(store, key, archive.data)
    return store.uri(key), frozenset(archive.fingerprints)


def stage_input(uri: str, digest: str, root: str) -> str:
    """A local input uploaded to root/objects/<digest>/<name> (skipped when there): the URI to read it from.
    A remote URI is returned as it is."""
    from greenpipe.backends.staging import object_store, stage_path

    if re.match(r"^[a-z][a-z0-9+.-]*://", uri):
        return uri
    store, prefix = object_store(root)
    return store.uri(stage_path(store, uri, prefix, digest).key)

"""Put local files where remote jobs read them: content-addressed objects, uploaded once.

A local input file or folder goes to `<prefix>/objects/<digest hex>/<its name>` (a folder keeps its tree under
that name), and the user's code archive to `<prefix>/code/<digest hex>.tar.gz`. A key holds one content only,
so an object already there is never uploaded again: across runs, pipelines and teams sharing a bucket.

The code lives in the engine's greenpipe.object_store, because shared state (greenpipe.shared_state) keeps its
objects under the same keys; the backends name it from here.
"""

from greenpipe.object_store import (
    MARKER,
    OBJECTS,
    FolderObjects,
    GCSObjects,
    ObjectStore,
    S3Objects,
    Staged,
    object_key,
    object_prefix,
    object_store,
    stage_bytes,
    stage_path,
    staged_name,
)

__all__ = [
    "MARKER",
    "OBJECTS",
    "FolderObjects",
    "GCSObjects",
    "ObjectStore",
    "S3Objects",
    "Staged",
    "object_key",
    "object_prefix",
    "object_store",
    "stage_bytes",
    "stage_path",
    "staged_name",
]

"""Put local files where remote jobs read them: content-addressed objects, uploaded once.

A local input file or folder goes to `<prefix>/objects/<digest hex>/<its name>` (a folder keeps its tree under
that name), and the user's code archive to `<prefix>/code/<digest hex>.tar.gz`. A key holds one content only,
so an object already there is never uploaded again: across runs, pipelines and teams sharing a bucket. An
object counts as there once its `.complete` marker is (written last), so an upload cut short is redone.
The same keys work for S3 (SageMaker, KFP on AWS or MinIO) and, for kfp.local, a folder standing for the root.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from greenpipe.digest import digest_hex, digest_path

OBJECTS = "objects"
MARKER = ".complete"


def object_prefix(prefix: str, digest: str) -> str:
    """`<prefix>/objects/<hex>`: every staged object lives under this."""
    return "/".join(p for p in (prefix.strip("/"), OBJECTS, digest_hex(digest)) if p)


def staged_name(local: str | os.PathLike[str]) -> str:
    """The name a local file or folder keeps under its object prefix (`data/` -> `data`)."""
    return os.path.basename(os.path.abspath(local))


def object_key(prefix: str, digest: str, name: str) -> str:
    """The key a local file or folder named `name` with content `digest` is staged at."""
    return f"{object_prefix(prefix, digest)}/{name}"


@dataclass(frozen=True)
class Staged:
    """One staged file or folder: its local path, digest, key and whether this call uploaded it."""

    local: str
    digest: str
    key: str
    uploaded: bool
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


class ObjectStore(Protocol):
    """Where staged objects go: exists(key) and put(key, bytes or file)."""

    def exists(self, key: str) -> bool: ...

    def put_file(self, key: str, path: Path) -> None: ...

    def put_bytes(self, key: str, data: bytes) -> None: ...

    def uri(self, key: str) -> str: ...


class S3Objects:
    """A bucket through a boto3 S3 client."""

    def __init__(self, bucket: str, client: Any = None):
        if client is None:
            import boto3

            client = boto3.client("s3")
        self.bucket = bucket
        self.client = client

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    def put_file(self, key: str, path: Path) -> None:
        self.client.upload_file(str(path), self.bucket, key)

    def put_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"


class FolderObjects:
    """A local folder standing for the object store root (kfp.local's pipeline root)."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)

    def exists(self, key: str) -> bool:
        return (self.root / key).exists()

    def put_file(self, key: str, path: Path) -> None:
        self.put_bytes(key, path.read_bytes())

    def put_bytes(self, key: str, data: bytes) -> None:
        from greenpipe.artifacts import write_bytes_atomic

        target = self.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(target, data)

    def uri(self, key: str) -> str:
        return str(self.root / key)


def stage_path(store: ObjectStore, local: str | os.PathLike[str], prefix: str, digest: str | None = None) -> Staged:
    """Upload a local file or folder to its content-addressed key unless it is there already."""
    path = Path(local)
    digest = digest or digest_path(path)
    key = object_key(prefix, digest, staged_name(path))
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    size = sum(f.stat().st_size for f in files)
    marker = f"{object_prefix(prefix, digest)}/{MARKER}"
    if store.exists(marker):
        return Staged(str(path), digest, key, False, size)
    for file in files:
        store.put_file(key if path.is_file() else f"{key}/{file.relative_to(path).as_posix()}", file)
    store.put_bytes(marker, digest.encode())
    return Staged(str(path), digest, key, True, size)


def stage_bytes(store: ObjectStore, key: str, data: bytes) -> bool:
    """Put `data` at a key named by its own digest unless it is there; True if it was uploaded."""
    if store.exists(key):
        return False
    store.put_bytes(key, data)
    return True


def object_store(root: str, client: Any = None) -> tuple[ObjectStore, str]:
    """The store and key prefix for a root: `s3://bucket/prefix` (S3 or MinIO through AWS_ENDPOINT_URL) or a
    local folder (kfp.local's pipeline root)."""
    from greenpipe.errors import GreenpipeError

    if root.startswith("s3://"):
        bucket, _, prefix = root[len("s3://") :].partition("/")
        return S3Objects(bucket, client), prefix.strip("/")
    if "://" in root:
        raise GreenpipeError(
            f"staging root {root!r}: only s3:// (AWS or MinIO) and local folders are supported; for GCS, stage to "
            "an S3-compatible bucket or a mounted folder"
        )
    return FolderObjects(root), ""

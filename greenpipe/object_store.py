"""Object stores a pipeline's files travel through: S3 (AWS or MinIO), GCS, or a local folder standing for one.

One protocol for all three, with the content-addressed key scheme every caller shares: a file or folder with
content digest D, named N, lives at `<prefix>/objects/<D hex>/<N>` (a folder keeps its tree under N), and counts
as there once `<prefix>/objects/<D hex>/.complete` is (written last, so an upload cut short is redone). Staging
(greenpipe.backends.staging) uploads local inputs to these keys; shared state (greenpipe.shared_state) keeps the
objects its tables reference there and fetches them back. Besides plain reads and writes, a store offers a
conditional write (`put_if`: only if the key is absent, or still holds the version read) on which shared state's
lease and snapshot rely: S3 PutObject If-None-Match/If-Match, GCS generation preconditions, a lock for a folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from greenpipe.digest import digest_bytes, digest_hex, digest_path
from greenpipe.errors import GreenpipeError

OBJECTS = "objects"
MARKER = ".complete"


def object_prefix(prefix: str, digest: str) -> str:
    """`<prefix>/objects/<hex>`: every content-addressed object lives under this."""
    return "/".join(p for p in (prefix.strip("/"), OBJECTS, digest_hex(digest)) if p)


def staged_name(local: str | os.PathLike[str]) -> str:
    """The name a local file or folder keeps under its object prefix (`data/` -> `data`)."""
    return os.path.basename(os.path.abspath(local))


def object_key(prefix: str, digest: str, name: str) -> str:
    """The key a local file or folder named `name` with content `digest` is staged at."""
    return f"{object_prefix(prefix, digest)}/{name}"


class ConditionFailed(GreenpipeError):
    """A conditional write found the key in another state than the caller expected (someone else wrote it)."""


@dataclass(frozen=True)
class Versioned:
    """The bytes at a key and the version tag a conditional write compares (S3 ETag, GCS generation)."""

    data: bytes
    tag: str


class ObjectStore(Protocol):
    """Where objects go and come back from."""

    def exists(self, key: str) -> bool: ...

    def put_file(self, key: str, path: Path) -> None: ...

    def put_bytes(self, key: str, data: bytes) -> None: ...

    def get_file(self, key: str, path: Path) -> None: ...

    def read(self, key: str) -> Versioned | None: ...

    def put_if(self, key: str, data: bytes, tag: str | None) -> str:
        """Write only if the key still holds version `tag` (None: only if it is absent); the new version's tag.
        Raises ConditionFailed otherwise."""
        ...

    def delete(self, key: str) -> None: ...

    def keys(self, prefix: str) -> list[str]: ...

    def uri(self, key: str) -> str: ...


class S3Objects:
    """A bucket through a boto3 S3 client (AWS_ENDPOINT_URL points it at MinIO or an emulator)."""

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
            if _s3_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    def put_file(self, key: str, path: Path) -> None:
        self.client.upload_file(str(path), self.bucket, key)

    def put_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

    def get_file(self, key: str, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.client.download_file(self.bucket, key, str(path))

    def read(self, key: str) -> Versioned | None:
        from botocore.exceptions import ClientError

        try:
            got = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _s3_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return Versioned(bytes(got["Body"].read()), str(got["ETag"]))

    def put_if(self, key: str, data: bytes, tag: str | None) -> str:
        from botocore.exceptions import ClientError

        condition = {"IfNoneMatch": "*"} if tag is None else {"IfMatch": tag}
        try:
            return str(self.client.put_object(Bucket=self.bucket, Key=key, Body=data, **condition)["ETag"])
        except ClientError as exc:
            # 412 PreconditionFailed; 409 ConditionalRequestConflict (a concurrent conditional write); IfMatch on
            # a key deleted meanwhile answers NoSuchKey
            if _s3_code(exc) in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409", "NoSuchKey"):
                raise ConditionFailed(f"{self.uri(key)} changed since it was read") from None
            raise

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def keys(self, prefix: str) -> list[str]:
        found: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            found.extend(obj["Key"] for obj in page.get("Contents", []))
        return sorted(found)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"


def _s3_code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class GCSObjects:
    """A Google Cloud Storage bucket through google-cloud-storage (imported when first used).

    Conditional writes use GCS generation preconditions (if_generation_match: 0 for "absent")."""

    def __init__(self, bucket: str, client: Any = None):
        if client is None:
            try:
                from google.cloud import storage
            except ImportError:
                raise GreenpipeError(
                    f"gs://{bucket}: reaching Google Cloud Storage needs google-cloud-storage, which is not "
                    "installed here: `pip install google-cloud-storage` in this environment (and in the image)"
                ) from None
            client = storage.Client()
        self.bucket_name = bucket
        self.client = client
        self.bucket = client.bucket(bucket)

    def exists(self, key: str) -> bool:
        return bool(self.bucket.blob(key).exists())

    def put_file(self, key: str, path: Path) -> None:
        self.bucket.blob(key).upload_from_filename(str(path))

    def put_bytes(self, key: str, data: bytes) -> None:
        self.bucket.blob(key).upload_from_string(data)

    def get_file(self, key: str, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.bucket.blob(key).download_to_filename(str(path))

    def read(self, key: str) -> Versioned | None:
        from google.api_core.exceptions import NotFound, PreconditionFailed

        while True:  # metadata then bytes: a write in between (a lease renewed) means read both again
            blob = self.bucket.get_blob(key)  # None when absent; carries the generation a precondition compares
            if blob is None:
                return None
            generation = blob.generation  # read before the download, which resets it from the response's headers
            try:
                return Versioned(bytes(blob.download_as_bytes(if_generation_match=generation)), str(generation))
            except PreconditionFailed:
                continue
            except NotFound:
                return None

    def put_if(self, key: str, data: bytes, tag: str | None) -> str:
        from google.api_core.exceptions import PreconditionFailed

        blob = self.bucket.blob(key)
        try:
            blob.upload_from_string(data, if_generation_match=0 if tag is None else int(tag))
        except PreconditionFailed:
            raise ConditionFailed(f"{self.uri(key)} changed since it was read") from None
        return str(blob.generation)

    def delete(self, key: str) -> None:
        self.bucket.blob(key).delete()

    def keys(self, prefix: str) -> list[str]:
        return sorted(blob.name for blob in self.client.list_blobs(self.bucket_name, prefix=prefix))

    def uri(self, key: str) -> str:
        return f"gs://{self.bucket_name}/{key}"


class FolderObjects:
    """A local folder standing for the object store root (kfp.local's pipeline root, a mounted volume)."""

    LOCKS = ".locks"  # conditional writes serialise on a lock file here, outside the key space

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

    def get_file(self, key: str, path: Path) -> None:
        import shutil

        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.root / key, path)

    def read(self, key: str) -> Versioned | None:
        try:
            data = (self.root / key).read_bytes()
        except FileNotFoundError:
            return None
        return Versioned(data, digest_bytes(data))

    def put_if(self, key: str, data: bytes, tag: str | None) -> str:
        with self._locked(key):
            current = self.read(key)
            if (current is None) != (tag is None) or (current is not None and current.tag != tag):
                raise ConditionFailed(f"{self.uri(key)} changed since it was read")
            self.put_bytes(key, data)
        return digest_bytes(data)

    def delete(self, key: str) -> None:
        (self.root / key).unlink(missing_ok=True)

    def keys(self, prefix: str) -> list[str]:
        base = self.root / prefix
        start = base if base.is_dir() else base.parent
        if not start.is_dir():
            return []
        found = (p.relative_to(self.root).as_posix() for p in start.rglob("*") if p.is_file())
        return sorted(k for k in found if k.startswith(prefix) and not k.startswith(self.LOCKS))

    def uri(self, key: str) -> str:
        return str(self.root / key)

    @contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        import fcntl

        lock = self.root / self.LOCKS / digest_hex(digest_bytes(key.encode()))
        lock.parent.mkdir(parents=True, exist_ok=True)
        with open(lock, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


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
    for file in files:  # the marker last: an upload cut short is redone
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
    """The store and key prefix for a root: `s3://bucket/prefix` (AWS, or MinIO through AWS_ENDPOINT_URL),
    `gs://bucket/prefix` (GCS), or a local folder (kfp.local's pipeline root; `file://` accepted)."""
    for scheme, kind in (("s3://", S3Objects), ("gs://", GCSObjects)):
        if root.startswith(scheme):
            bucket, _, prefix = root[len(scheme) :].partition("/")
            if not bucket:
                raise GreenpipeError(f"{root!r} names no bucket: write {scheme}BUCKET/PREFIX")
            store: ObjectStore = kind(bucket, client)
            return store, prefix.strip("/")
    if root.startswith("file://"):
        root = root[len("file://") :]
    if "://" in root:
        raise GreenpipeError(
            f"{root!r}: use s3://BUCKET/PREFIX (AWS or MinIO), gs://BUCKET/PREFIX (GCS) or a local folder"
        )
    return FolderObjects(root), ""

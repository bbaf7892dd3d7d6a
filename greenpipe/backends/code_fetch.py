"""At step start, in the container: fetch the code archive the compiled step names, check it, put it on the path.

The compiled job carries `GREENPIPE_CODE_URI` (s3://.../code/<digest hex>.tar.gz, or a local path or file://
URI for kfp.local) and `GREENPIPE_FINGERPRINT`. The archive's bytes must have the digest its name says; the
step it serves must be in its manifest with that fingerprint; and the step imported from it must fingerprint
to the same project code. Any difference is an error naming what differs: never a silent run of other code.
Third-party or Python versions that differ from the laptop's are printed as a warning, not refused: the
image decides those (rebuild it with the project's requirements to match).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from greenpipe.backends.code_archive import MANIFEST
from greenpipe.digest import digest_bytes, digest_hex
from greenpipe.errors import GreenpipeError
from greenpipe.step import Step

CODE_URI_ENV = "GREENPIPE_CODE_URI"
FINGERPRINT_ENV = "GREENPIPE_FINGERPRINT"


def prepare_code(
    environ: dict[str, str] | None = None, home: str | os.PathLike[str] | None = None
) -> dict[str, Any] | None:
    """Fetch and unpack the archive named by GREENPIPE_CODE_URI, put it first on sys.path; its manifest.

    None when the job names no archive (the step's code is in the image)."""
    env = os.environ if environ is None else environ
    uri = env.get(CODE_URI_ENV, "")
    if not uri:
        return None
    from greenpipe.backends.code_requirements import ensure_requirements

    cache = Path(home) if home else _cache_home()
    folder = fetch_code(uri, cache)
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    with open(folder / MANIFEST, encoding="utf-8") as handle:
        manifest: dict[str, Any] = json.load(handle)
    manifest["uri"] = uri
    installed = ensure_requirements(manifest.get("requirements", []), cache / "site-packages")
    if installed:
        print(f"greenpipe: installed {', '.join(installed)} (the image lacks them)", file=sys.stderr, flush=True)
    return manifest


def _cache_home() -> Path:
    from greenpipe.store import default_home

    return Path(default_home()) / "code"


def fetch_code(uri: str, cache: Path) -> Path:
    """The unpacked archive's folder under `cache` (downloaded and verified once per digest)."""
    name = uri.rstrip("/").rsplit("/", 1)[-1]
    if not name.endswith(".tar.gz"):
        raise GreenpipeError(f"{CODE_URI_ENV}={uri!r} does not name a code archive (.../code/<digest>.tar.gz)")
    expected = name.removesuffix(".tar.gz")
    folder = cache / expected
    if (folder / MANIFEST).is_file():
        return folder
    data = read_uri(uri)
    actual = digest_hex(digest_bytes(data))
    if actual != expected:
        raise GreenpipeError(
            f"code archive {uri}: its content digest is {actual}, not the {expected} its name says; the object "
            "was changed after deploy: run `greenpipe deploy` again to upload the code"
        )
    cache.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{expected[:12]}.", dir=cache))
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            tar.extractall(scratch, filter="data")
        try:
            os.replace(scratch, folder)
        except OSError:  # another process unpacked the same archive first: its copy is the same bytes
            if not (folder / MANIFEST).is_file():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return folder


def read_uri(uri: str) -> bytes:
    """The bytes at an s3:// URI (boto3; AWS_ENDPOINT_URL points it at MinIO or an emulator), a gs:// URI
    (google-cloud-storage), a file:// URI or a local path."""
    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            body = boto3.client("s3").get_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))["Body"]
            return bytes(body.read())
        except (ClientError, BotoCoreError) as exc:
            raise GreenpipeError(
                f"code archive {uri} could not be downloaded ({exc}); check that the job's role may s3:GetObject "
                "on it and that `greenpipe deploy` uploaded it"
            ) from None
    if parsed.scheme == "gs":
        from greenpipe.object_store import GCSObjects

        found = GCSObjects(parsed.netloc).read(parsed.path.lstrip("/"))
        if found is None:
            raise GreenpipeError(f"code archive {uri} does not exist; compile the pipeline again with --stage")
        return found.data
    if parsed.scheme in ("", "file"):
        path = Path(parsed.path if parsed.scheme == "file" else uri)
        if not path.is_file():
            raise GreenpipeError(f"code archive {uri} does not exist; compile the pipeline again with staging")
        return path.read_bytes()
    raise GreenpipeError(f"code archive {uri}: scheme {parsed.scheme!r} is not supported; use s3://, gs:// or a path")


def check_code(step: Step, manifest: dict[str, Any] | None, environ: dict[str, str] | None = None) -> list[str]:
    """Refuse to run `step` if its code here is not the code it was compiled from; returns warnings.

    The warnings name third-party packages or a Python version that differ from the compiling machine's."""
    if manifest is None:
        return []
    env = os.environ if environ is None else environ
    ref = step.spec.ref
    entry: dict[str, Any] | None = manifest.get("steps", {}).get(ref)
    expected = env.get(FINGERPRINT_ENV, "")
    if entry is None:  # a step run for another (a tuning job's trial): the archive holds code it imports by name
        actual_digest = step.fingerprint().digest
        if expected and actual_digest != expected:
            raise GreenpipeError(
                f"step {ref}: its code here has fingerprint {actual_digest}, not the {expected} the job was "
                "compiled with; use an image of the same greenpipe version and compile and deploy again"
            )
        return []
    if expected and entry["digest"] != expected:
        raise GreenpipeError(
            f"step {ref}: the job expects code fingerprint {expected}, but the code archive "
            f"{manifest.get('uri')} was built for {entry['digest']}; compile and deploy the pipeline again"
        )
    actual = step.fingerprint()
    if actual.digest == entry["digest"]:
        return []
    changed = actual.changed_since(entry["parts"])
    code = [n for n in changed if not n.startswith("pkg:") and n != "python"]
    if code:
        raise GreenpipeError(
            f"step {ref}: the code here differs from the code it was compiled from in {', '.join(code[:8])}"
            + (f" and {len(code) - 8} more" if len(code) > 8 else "")
            + "; the image's greenpipe or an installed copy of the project shadows the archive: use an image "
            "of the same greenpipe version and do not install the project in it"
        )
    old, new = entry["parts"], actual.parts
    return [f"{n}: compiled with {old.get(n, '(absent)')}, here {new.get(n, '(absent)')}" for n in changed]

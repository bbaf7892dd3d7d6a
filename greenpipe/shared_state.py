"""State that outlives a run, shared by every job and pod through ONE location: GREENPIPE_SHARED.

On the laptop the store in GREENPIPE_HOME is the state: the model registry, the feature catalog, tuning studies
and the objects they name are simply there. In a KFP pod or a SageMaker job GREENPIPE_HOME is private and empty,
so a compiled pipeline carries GREENPIPE_SHARED (s3://bucket/prefix, gs://bucket/prefix, or a folder for
kfp.local), and while a step runs in a container (`step_session`, opened by the entry point and the KFP runtime):

- a component that keeps such state asks for it by name: `Store.declare_tables(names, ddl, shared_for)` for
  store tables, `shared_folder(home, name, needed_for)` for a folder of files. The first ask takes the location's
  lease (`state/lease.json`, created only if absent; renewed while the step runs; taken over once expired) and
  replaces the local copy with the shared one (`state/tables.json`: the tables, the folders' file digests, the
  pins). The engine knows no component: it shares what was asked for.
- an object the store lacks is fetched from `objects/<digest hex>/` (the staging key scheme) when asked for by
  `Store.object_path`, and checked against its digest.
- when the step succeeds, objects pinned during the step and changed folder files are uploaded to their
  content-addressed keys, and the snapshot is written only if the location still holds the version read
  (a conditional put): a job whose lease expired and was taken over fails with a clear error instead of
  overwriting the other job's writes. The lease is released either way.

With no location configured, a step that asks for shared state in a container fails with one message naming
the setting. `GREENPIPE_SHARED=home` says the job's own GREENPIPE_HOME is the shared state (one machine, or a
volume every pod mounts): nothing is synchronised. Outside a container (the local runner, a plain call) these
calls do nothing: the store is the state.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from greenpipe.errors import GreenpipeError
from greenpipe.object_store import MARKER, ConditionFailed, object_prefix, object_store, stage_path
from greenpipe.shared_lease import WAIT_SECONDS_ENV, Lease, LeaseLost
from greenpipe.store import MISSING_OBJECT_FETCHERS, TABLE_DECLARATION_HOOKS, Store

SHARED_ENV = "GREENPIPE_SHARED"
LEASE_SECONDS_ENV = "GREENPIPE_SHARED_LEASE_S"  # how long a lease lasts without renewal (default 120)
HOME_IS_SHARED = "home"
STATE_KEY = "state/tables.json"
LEASE_KEY = "state/lease.json"
PINS = "pins"  # the engine's table of objects someone keeps (a registered model, a baseline): always shared
FORMAT = 1

_local = threading.local()
_open: list[SharedSession] = []  # sessions open in this process (one in a container; several in tests)
_open_lock = threading.Lock()


class SharedStateMissing(GreenpipeError):
    """A step needs state shared between jobs, and the job has no shared location."""


class SharedStateUnreachable(GreenpipeError):
    """The shared location could not be read or written (credentials, bucket, network)."""


class SharedStateConflict(GreenpipeError):
    """The shared state changed while this step held its lease (the lease expired and was taken over)."""


def use_shared_tables(store: Store, names: tuple[str, ...], needed_for: str) -> None:
    """`store`'s tables `names` are state shared between runs (a component declared them with
    `Store.declare_tables`). In a container job, the first use pulls them (with the pins) from the shared
    location, and they are pushed back when the step succeeds. Elsewhere it does nothing."""
    session = _active()
    if session is not None:
        session.use_tables(store, names, needed_for)


def shared_folder(home: str | os.PathLike[str], name: str, needed_for: str) -> Path:
    """The folder `home/name` whose files are state shared between runs (e.g. Optuna studies), pulled from the
    shared location first in a container job and pushed back when the step succeeds."""
    folder = Path(home) / name
    session = _active()
    if session is not None:
        session.use_folder(folder, name, needed_for)
    return folder


def fetch_missing(store: Store, digest: str) -> None:
    """Fetch an object `store` lacks from the shared location, if a container step runs with one (else nothing)."""
    session = _active()
    if session is not None:
        session.fetch_object(store, digest)


MISSING_OBJECT_FETCHERS.append(fetch_missing)
TABLE_DECLARATION_HOOKS.append(use_shared_tables)


def _active() -> SharedSession | None:
    """The session of the step running in this thread; in a thread the step started (a pool of workers), the
    process's one open session: a container runs one step per process."""
    session = getattr(_local, "session", None)
    if session is None:
        with _open_lock:
            session = _open[0] if len(_open) == 1 else None
    return session


@contextmanager
def step_session(task: str, environ: dict[str, str] | None = None) -> Iterator[SharedSession]:
    """Run one container step with the shared location GREENPIPE_SHARED names (or none): yields the session;
    call `session.finish(paths)` after the step succeeded. The lease, if taken, is released on the way out."""
    env = os.environ if environ is None else environ
    location = env.get(SHARED_ENV, "").strip() or None
    session = SharedSession(location, task, _seconds(env, LEASE_SECONDS_ENV, 120), _seconds(env, WAIT_SECONDS_ENV, 900))
    previous = getattr(_local, "session", None)
    _local.session = session
    with _open_lock:
        _open.append(session)
    try:
        yield session
    finally:
        _local.session = previous
        with _open_lock:
            _open.remove(session)
        session.release()


def _seconds(env: Any, name: str, default: float) -> float:
    text = env.get(name, "")
    try:
        value = float(text) if text else default
    except ValueError:
        raise GreenpipeError(f"{name}={text!r} is not a number of seconds; e.g. {name}={default:g}") from None
    if value <= 0:
        raise GreenpipeError(f"{name}={text!r} must be more than 0 seconds")
    return value


class SharedSession:
    """One step's use of the shared location: what it pulled, under which lease, and what it pushes."""

    def __init__(self, location: str | None, task: str, lease_s: float = 120, wait_s: float = 900):
        self.location = location
        self.task = task
        self.lease_s, self.wait_s = lease_s, wait_s
        self.objects: Any = None
        self.prefix = ""
        if location and location != HOME_IS_SHARED:
            self.objects, self.prefix = object_store(location)
        self.lease: Lease | None = None
        self.snapshot: dict[str, Any] = {}
        self.snapshot_tag: str | None = None
        self._store: Store | None = None  # the store of the step, once the session began
        self.tables: set[str] = set()
        self.folders: dict[str, Path] = {}
        self.pins_before: set[tuple[str, str]] = set()
        self._lock = threading.RLock()  # a step's worker threads share its session

    @property
    def store(self) -> Store:
        if self._store is None:
            raise RuntimeError("the shared session has not begun: no table, folder or object was asked for yet")
        return self._store

    @property
    def syncing(self) -> bool:
        return self.objects is not None

    def key(self, relative: str) -> str:
        return f"{self.prefix}/{relative}" if self.prefix else relative

    # -- what a step asks for -------------------------------------------------------------------------------------

    def _require(self, needed_for: str) -> None:
        if self.location is None:
            raise SharedStateMissing(
                f"step {self.task} needs state shared between runs ({needed_for}), but this job has no shared "
                f"location, and its own store is private to the job: set {SHARED_ENV}=s3://BUCKET/PREFIX (or "
                f"gs://BUCKET/PREFIX, or a folder every task reaches under kfp.local) when compiling, so the "
                f"definition carries it (SageMaker: by default s3://<artifact bucket>/<prefix>/shared), or "
                f"{SHARED_ENV}={HOME_IS_SHARED} when every job mounts the same GREENPIPE_HOME"
            )

    def use_tables(self, store: Store, names: tuple[str, ...], needed_for: str) -> None:
        with self._lock:
            self._require(needed_for)
            if not self.syncing:
                return
            self._begin(store)
            for name in names:
                if name not in self.tables:
                    self.tables.add(name)
                    shared = self.snapshot.get("tables", {}).get(name)
                    if shared is not None:  # else nothing shared yet: the component creates its table as always
                        self.store.replace_table(name, shared)

    def use_folder(self, folder: Path, name: str, needed_for: str) -> None:
        with self._lock:
            self._require(needed_for)
            if not self.syncing or name in self.folders:
                return
            self._begin(Store(folder.parent).create())
            self.folders[name] = folder
            folder.mkdir(parents=True, exist_ok=True)
            for relative, digest in sorted(self.snapshot.get("folders", {}).get(name, {}).items()):
                target = folder / relative
                if target.is_file() and self.store.digest_of(target) == digest:
                    continue
                self._download(digest, target)

    def fetch_object(self, store: Store, digest: str) -> None:
        with self._lock:
            if not self.syncing:
                return
            base = object_prefix(self.prefix, digest)
            keys = [k for k in self.objects.keys(base + "/") if k != f"{base}/{MARKER}"]
            if not keys or not self.objects.exists(f"{base}/{MARKER}"):
                return  # not shared either: the caller reports the object missing
            scratch = Path(tempfile.mkdtemp(prefix="shared-", dir=store.tmp_dir("shared")))
            name = keys[0][len(base) + 1 :].split("/", 1)[0]
            try:
                for key in keys:
                    self.objects.get_file(key, scratch / key[len(base) + 1 :])
                _put_verified(store, scratch / name, digest, self.objects.uri(base))
            finally:
                shutil.rmtree(scratch, ignore_errors=True)  # put moved the object out; a failed one is dropped

    # -- the lease and the snapshot ---------------------------------------------------------------------------------

    def _begin(self, store: Store) -> None:
        """Take the lease and read the snapshot once per step; add the shared pins to the local store."""
        if self.lease is not None:
            return
        self._store = store
        lease = Lease(self.objects, self.key(LEASE_KEY), f"{self.task}@{_host()}", self.lease_s, self.wait_s)
        try:
            lease.acquire()
        except GreenpipeError:
            raise
        except Exception as exc:  # the object store's own error (no credentials, no such bucket, no network)
            raise SharedStateUnreachable(
                f"step {self.task} cannot reach its shared location {self.location} ({type(exc).__name__}: {exc}); "
                f"check that {SHARED_ENV} names a bucket or folder this job can write, with its credentials"
            ) from exc
        self.lease = lease  # released on the way out only once it is held
        found = self.objects.read(self.key(STATE_KEY))
        if found is not None:
            self.snapshot, self.snapshot_tag = json.loads(found.data), found.tag
        with store.transaction() as db:
            for digest, owner in self.snapshot.get(PINS, []):
                store.pin(digest, owner, db)
        self.pins_before = store.pins()

    def finish(self, known_paths: dict[str, str | os.PathLike[str]]) -> None:
        """After the step succeeded: upload what it pinned and the folder files it changed, then write the
        snapshot if anything changed, only if no one else wrote it meanwhile.

        Args:
            known_paths: content digest -> a path holding that content (the step's inputs and outputs), for
                pinned objects that are not in the local store (a job's inputs are not stored objects).
        """
        if self.lease is None:
            return

        pins = self.store.pins()
        for digest in sorted({d for d, _ in pins - self.pins_before}):
            if self.objects.exists(f"{object_prefix(self.prefix, digest)}/{MARKER}"):
                continue
            local = self.store.object_path(digest)
            source = local if local.exists() else known_paths.get(digest)
            if source is None or not Path(source).exists():
                raise GreenpipeError(
                    f"step {self.task} keeps object {digest} in shared state, but it is neither in its store nor "
                    "among its inputs and outputs, so it cannot be shared; store it (Store.put) before pinning it"
                )
            stage_path(self.objects, source, self.prefix, digest)
        updated = dict(self.snapshot, format=FORMAT)
        updated[PINS] = sorted(map(list, pins | {tuple(p) for p in self.snapshot.get(PINS, [])}))
        tables = dict(self.snapshot.get("tables", {}))
        for name in sorted(self.tables):
            tables[name] = self.store.table_rows(name)
        updated["tables"] = tables
        folders = dict(self.snapshot.get("folders", {}))
        for name, folder in sorted(self.folders.items()):
            files = {}
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                digest = self.store.digest_of(path)
                stage_path(self.objects, path, self.prefix, digest)
                files[path.relative_to(folder).as_posix()] = digest
            folders[name] = files
        updated["folders"] = folders
        if updated == self.snapshot:
            return
        data = json.dumps(updated, sort_keys=True, separators=(",", ":")).encode()
        try:
            self.lease.renew()  # the lease must still be ours when the snapshot is written
            self.snapshot_tag = self.objects.put_if(self.key(STATE_KEY), data, self.snapshot_tag)
        except (LeaseLost, ConditionFailed):
            raise SharedStateConflict(
                f"step {self.task}: the shared state at {self.objects.uri(self.key(STATE_KEY))} was changed by "
                f"another job while this step held its lease (it expired after {self.lease_s:g} s without "
                "renewal, and was taken over); this step's changes were NOT written, and the other job's are kept. "
                f"Run the step again; raise {LEASE_SECONDS_ENV} if jobs stall for longer"
            ) from None
        self.snapshot = updated

    def _download(self, digest: str, target: Path) -> None:
        base = object_prefix(self.prefix, digest)
        keys = [k for k in self.objects.keys(base + "/") if k != f"{base}/{MARKER}"]
        if len(keys) != 1:
            raise GreenpipeError(f"shared object {self.objects.uri(base)} is missing or not one file")
        target.parent.mkdir(parents=True, exist_ok=True)
        self.objects.get_file(keys[0], target)

    def release(self) -> None:
        if self.lease is not None:
            self.lease.release()


def _host() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _put_verified(store: Store, path: Path, digest: str, where: str) -> None:
    from greenpipe.digest import digest_path

    found = digest_path(path)
    if found != digest:
        raise GreenpipeError(
            f"shared object {where} has content digest {found}, not the {digest} its key names: it was changed "
            "after upload; delete it and rerun the step that produced it"
        )
    store.put(path, "shared", digest)


def compiled_location(location: str | None, root: str | None = None) -> str | None:
    """The shared location a compiled definition carries: `location` (else GREENPIPE_SHARED at compile time),
    else `<root>/shared` next to the artifact root when one is known; checked for form (nothing is contacted).
    A folder is made absolute: every task must reach the same one."""
    chosen = (location or os.environ.get(SHARED_ENV, "")).strip()
    if not chosen and root:
        chosen = root.rstrip("/") + "/shared"
    if not chosen or chosen == HOME_IS_SHARED:
        return chosen or None
    for scheme in ("s3://", "gs://"):
        if chosen.startswith(scheme):
            if not chosen[len(scheme) :].split("/", 1)[0]:
                raise GreenpipeError(f"{SHARED_ENV}={chosen!r} names no bucket: write {scheme}BUCKET/PREFIX")
            return chosen
    if "://" in chosen and not chosen.startswith("file://"):
        raise GreenpipeError(
            f"{SHARED_ENV}={chosen!r}: use s3://BUCKET/PREFIX (AWS or MinIO), gs://BUCKET/PREFIX (GCS), a folder "
            f"every task reaches, or {HOME_IS_SHARED!r}"
        )
    return os.path.abspath(chosen.removeprefix("file://"))

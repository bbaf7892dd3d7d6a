"""The embedded default store: a folder of content-addressed artifacts plus one SQLite file.

GREENPIPE_HOME (default `.greenpipe/` in the working directory) holds:
    greenpipe.db   runs, executions, lineage, ledger credits, cache index, digest memo (SQLite, WAL)
    objects/       artifacts named by content digest, read-only once stored
    tmp/           outputs being written; moved into objects/ by an atomic rename
    locks/         one lock file per cache key being computed, so concurrent runs compute once
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from greenpipe.digest import digest_hex, digest_path
from greenpipe.errors import StoreError

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, pipeline TEXT NOT NULL, status TEXT NOT NULL, params TEXT NOT NULL,
    region TEXT, intensity_g_per_kwh REAL, intensity_source TEXT, energy_method TEXT,
    started REAL NOT NULL, finished REAL, pid INTEGER, host TEXT
);
CREATE TABLE IF NOT EXISTS executions (
    exec_id TEXT PRIMARY KEY, run_id TEXT NOT NULL, pipeline TEXT NOT NULL, task TEXT NOT NULL,
    step_ref TEXT NOT NULL, cache_key TEXT, status TEXT NOT NULL, reason TEXT,
    started REAL, finished REAL, wall_s REAL DEFAULT 0, cpu_s REAL DEFAULT 0, peak_mb REAL DEFAULT 0,
    energy_kwh REAL DEFAULT 0, co2e_g REAL DEFAULT 0, avoided_kwh REAL DEFAULT 0, avoided_co2e_g REAL DEFAULT 0,
    method TEXT, source_exec TEXT, fingerprint TEXT, version TEXT, params TEXT, inputs TEXT, vals TEXT, error TEXT
);
CREATE INDEX IF NOT EXISTS executions_by_task ON executions (pipeline, task, finished);
CREATE INDEX IF NOT EXISTS executions_by_run ON executions (run_id);
CREATE TABLE IF NOT EXISTS artifacts (
    digest TEXT PRIMARY KEY, kind TEXT NOT NULL, size INTEGER NOT NULL, relpath TEXT NOT NULL,
    created REAL NOT NULL, deleted REAL
);
CREATE TABLE IF NOT EXISTS outputs (
    exec_id TEXT NOT NULL, name TEXT NOT NULL, digest TEXT NOT NULL, PRIMARY KEY (exec_id, name)
);
CREATE INDEX IF NOT EXISTS outputs_by_digest ON outputs (digest);
CREATE TABLE IF NOT EXISTS inputs (
    exec_id TEXT NOT NULL, name TEXT NOT NULL, digest TEXT NOT NULL, source TEXT, PRIMARY KEY (exec_id, name)
);
CREATE TABLE IF NOT EXISTS cache (
    cache_key TEXT PRIMARY KEY, exec_id TEXT NOT NULL, created REAL NOT NULL, last_used REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS credits (
    exec_id TEXT NOT NULL, kind TEXT NOT NULL, energy_kwh REAL NOT NULL, co2e_g REAL NOT NULL,
    traced_to TEXT NOT NULL, note TEXT
);
CREATE INDEX IF NOT EXISTS credits_by_exec ON credits (exec_id);
CREATE TABLE IF NOT EXISTS pins (
    digest TEXT NOT NULL, owner TEXT NOT NULL, PRIMARY KEY (digest, owner)
);
CREATE TABLE IF NOT EXISTS file_digests (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL, digest TEXT NOT NULL
);
"""


# (table, column, type) added since the first release, so older stores gain them on open
ADDED_COLUMNS = (("executions", "varies", "TEXT"),)
# Called with (store, digest) when an object is missing, before the store reports it missing: greenpipe.shared_state
# adds its fetch from the shared location when imported (the store does not import it: arrows point one way).
MISSING_OBJECT_FETCHERS: list[Callable[[Store, str], None]] = []


def default_home() -> Path:
    return Path(os.environ.get("GREENPIPE_HOME") or ".greenpipe").resolve()


class Store:
    """Access to one GREENPIPE_HOME. Safe to share between threads (one SQLite connection per thread)."""

    def __init__(self, home: str | os.PathLike[str] | None = None):
        self.home = Path(home).resolve() if home else default_home()
        self.db_path = self.home / "greenpipe.db"
        self.objects = self.home / "objects"
        self._local = threading.local()

    @property
    def exists(self) -> bool:
        return self.db_path.exists()

    def create(self) -> Store:
        """Make the folders and tables (idempotent)."""
        try:
            for sub in ("objects", "tmp", "locks"):
                (self.home / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._unusable(exc) from None
        self.connection().executescript(SCHEMA)
        self._add_missing_columns()
        return self

    def _add_missing_columns(self) -> None:
        """Columns added after a store was first created (CREATE TABLE IF NOT EXISTS leaves old tables as they were)."""
        db = self.connection()
        missing = [(t, c, k) for t, c, k in ADDED_COLUMNS if self._lacks(db, t, c)]
        if not missing:
            return
        db.execute("BEGIN IMMEDIATE")  # two processes opening an older store at once add each column once
        try:
            for table, column, kind in missing:
                if self._lacks(db, table, column):  # checked again under the lock
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    @staticmethod
    def _lacks(db: sqlite3.Connection, table: str, column: str) -> bool:
        """True for an older store: the table is there without the column."""
        present = {row["name"] for row in db.execute(f"PRAGMA table_info({table})")}
        return bool(present) and column not in present

    def _unusable(self, exc: BaseException) -> StoreError:
        """The one message for a store that cannot be opened, with the fix."""
        where = f"the store {self.home} (--home / GREENPIPE_HOME)"
        if self.home.exists() and not self.home.is_dir():
            return StoreError(f"{where} is a file, not a folder: point --home or GREENPIPE_HOME at a folder")
        if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
            return StoreError(
                f"{where} has a corrupt index {self.db_path} ({exc}). Move it aside and rerun: "
                f"`mv {self.db_path} {self.db_path}.corrupt`. The stored objects in {self.objects} stay; each step "
                f"reruns once (identical outputs are stored once). `sqlite3 {self.db_path}.corrupt .recover` may "
                "save the run history."
            )
        reason = getattr(exc, "strerror", None) or str(exc)
        return StoreError(f"{where} cannot be written ({reason}): make it writable, or choose another folder")

    # -- SQLite -------------------------------------------------------------------------------------------------

    def connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            try:
                self.home.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.db_path, timeout=60, isolation_level=None, check_same_thread=False)
                db.row_factory = sqlite3.Row
                db.execute("PRAGMA busy_timeout=60000")
                _use_wal(db)
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute("SELECT count(*) FROM sqlite_master").fetchone()  # a corrupt file fails here, not later
            except (OSError, sqlite3.DatabaseError) as exc:
                if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                    raise
                raise self._unusable(exc) from None
            self._local.db = db
            self._add_missing_columns()
        return db

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write: everything inside lands together or not at all."""
        db = self.connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def query(self, sql: str, args: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        if not self.exists:
            return []
        return self.connection().execute(sql, args).fetchall()

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # -- objects ------------------------------------------------------------------------------------------------

    def object_path(self, digest: str) -> Path:
        """Where the object with this digest is stored. In a container job with shared state, an object this
        store lacks is fetched from the shared location first (greenpipe.shared_state)."""
        path = self._object_file(digest)
        if not path.exists():
            for fetch in MISSING_OBJECT_FETCHERS:
                fetch(self, digest)
        return path

    def _object_file(self, digest: str) -> Path:
        hexpart = digest_hex(digest)
        return self.objects / hexpart[:2] / hexpart

    def tmp_dir(self, label: str) -> Path:
        path = self.home / "tmp" / label
        path.mkdir(parents=True, exist_ok=True)
        return path

    def put(self, path: Path, kind: str, digest: str | None = None) -> tuple[str, Path]:
        """Move a finished output into objects/ under its digest; return (digest, stored path).

        The rename is atomic, so an object is either absent or complete. If the same content is already
        stored, the new copy is dropped. Symbolic links in the output are replaced by copies of what they point
        to first, so nothing outside the store is ever made read-only, moved or deleted. `digest` is the
        content digest when the caller just computed it (a link and its copy have the same content).
        """
        _copy_links_in(path)
        digest = digest or digest_path(path)
        target = self._object_file(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() and self.digest_of(target) != digest:
            self._quarantine(target)  # a stored copy was damaged: the fresh one takes its place
        if target.exists():
            _remove(path)
        else:
            _make_read_only(path)
            try:
                os.rename(path, target)
            except OSError:  # another run stored the same content a moment ago
                if not target.exists():
                    raise
                _remove(path)
        size = _size_of(target)
        st = os.stat(target)
        with self.transaction() as db:
            db.execute(
                "INSERT INTO artifacts (digest, kind, size, relpath, created) VALUES (?,?,?,?,?) "
                "ON CONFLICT(digest) DO UPDATE SET deleted=NULL",
                (digest, kind, size, str(target.relative_to(self.home)), time.time()),
            )
            self._remember(db, target, st, digest)
        return digest, target

    def pin(self, digest: str, owner: str, db: sqlite3.Connection | None = None) -> None:
        """Keep an artifact through `gc` (a registered model, a drift baseline): `owner` says who needs it.

        Pass `db` to pin inside a transaction the caller holds (a registry entry and its pins land together).
        """
        if db is not None:
            db.execute("INSERT OR IGNORE INTO pins (digest, owner) VALUES (?,?)", (digest, owner))
            return
        with self.transaction() as held:
            self.pin(digest, owner, held)

    def _quarantine(self, target: Path) -> None:
        aside = self.home / "tmp" / f"corrupt-{target.name}-{os.getpid()}"
        os.rename(target, aside)
        _remove(aside)

    # -- digest memo: (path, size, mtime_ns, ctime_ns, inode) -> digest ---------------------------------------

    def digest_of(self, path: str | os.PathLike[str], rehash: bool = False) -> str:
        """Digest of a file or folder, re-read only if its stat changed since last time (or `rehash`).

        The stat includes st_ctime_ns, which the kernel sets on every write or chmod and no user call can set
        back: a same-size rewrite with its old mtime restored (`cp -p`, `os.utime`) is re-read.
        """
        real = os.path.realpath(path)
        st = os.stat(real)
        if stat.S_ISDIR(st.st_mode):
            return digest_path(real)  # a folder's stat misses edits inside its files; always re-read
        rows = (
            []
            if rehash
            else self.query("SELECT size, mtime_ns, ctime_ns, inode, digest FROM file_digests WHERE path=?", (real,))
        )
        if rows and (rows[0]["size"], rows[0]["mtime_ns"], rows[0]["ctime_ns"], rows[0]["inode"]) == (
            st.st_size,
            st.st_mtime_ns,
            st.st_ctime_ns,
            st.st_ino,
        ):
            return str(rows[0]["digest"])
        digest = digest_path(real)
        if self.exists:
            with self.transaction() as db:
                self._remember(db, Path(real), st, digest)
        return digest

    @staticmethod
    def _remember(db: sqlite3.Connection, path: Path, st: os.stat_result, digest: str) -> None:
        db.execute(
            "INSERT OR REPLACE INTO file_digests (path, size, mtime_ns, ctime_ns, inode, digest) VALUES (?,?,?,?,?,?)",
            (str(path), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, digest),
        )

    # -- reads used by the CLI, report and components ---------------------------------------------------------

    def run(self, run_id: str) -> sqlite3.Row | None:
        rows = self.query("SELECT * FROM runs WHERE run_id=?", (run_id,))
        return rows[0] if rows else None

    def executions(self, run_id: str) -> list[sqlite3.Row]:
        return self.query("SELECT * FROM executions WHERE run_id=? ORDER BY started, rowid", (run_id,))

    def outputs_of(self, exec_id: str) -> dict[str, str]:
        return {
            r["name"]: r["digest"] for r in self.query("SELECT name, digest FROM outputs WHERE exec_id=?", (exec_id,))
        }

    def inputs_of(self, exec_id: str) -> list[sqlite3.Row]:
        return self.query("SELECT name, digest, source FROM inputs WHERE exec_id=?", (exec_id,))

    def credits_of(self, exec_id: str) -> list[sqlite3.Row]:
        """Avoided energy an execution recorded (measured); projections are read with `projections_of`."""
        return self.query("SELECT * FROM credits WHERE exec_id=? AND kind != 'projection'", (exec_id,))

    def projections_of(self, exec_id: str) -> list[sqlite3.Row]:
        """Projected savings an execution recorded (kind `projection`): never part of avoided totals."""
        return self.query("SELECT * FROM credits WHERE exec_id=? AND kind = 'projection'", (exec_id,))

    def producer_of(self, digest: str) -> sqlite3.Row | None:
        """The first execution that ran and produced this artifact."""
        rows = self.query(
            "SELECT e.* FROM outputs o JOIN executions e ON e.exec_id=o.exec_id "
            "WHERE o.digest=? AND e.status='ran' ORDER BY e.finished LIMIT 1",
            (digest,),
        )
        return rows[0] if rows else None

    def lineage(self, digest: str) -> list[sqlite3.Row]:
        """Every ran execution upstream of an artifact (itself included), each once."""
        seen: dict[str, sqlite3.Row] = {}
        stack = [digest]
        visited: set[str] = set()
        while stack:
            current = stack.pop()
            if current in visited:
                continue
            visited.add(current)
            producer = self.producer_of(current)
            if producer is None or producer["exec_id"] in seen:
                continue
            seen[producer["exec_id"]] = producer
            stack.extend(r["digest"] for r in self.inputs_of(producer["exec_id"]))
        return list(seen.values())


def _use_wal(db: sqlite3.Connection) -> None:
    """Switch the file to WAL once (it stays WAL). Two processes creating the store at the same moment can both
    try; SQLite answers the loser 'locked' at once, without its busy handler, so wait and look again."""
    deadline = time.monotonic() + 60
    while True:
        try:
            if db.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
                return
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _copy_links_in(path: Path) -> None:
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


def _make_read_only(path: Path) -> None:
    paths = [path] + (list(path.rglob("*")) if path.is_dir() else [])
    for item in paths:
        if item.is_file():
            item.chmod(0o444)


def _remove(path: Path) -> None:
    if path.is_dir():
        for item in path.rglob("*"):
            if item.is_file():
                item.chmod(0o644)
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def _size_of(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def remove_object(path: Path) -> None:
    """Delete a stored object (used by gc)."""
    _remove(path)

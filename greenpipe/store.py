"""The embedded default store: a folder of content-addressed artifacts plus one SQLite file.

GREENPIPE_HOME (default `.greenpipe/` in the working directory) holds:
    greenpipe.db   runs, executions, lineage, ledger credits, cache index, digest memo (SQLite, WAL)
    objects/       artifacts named by content digest, read-only once stored
    tmp/           outputs being written; moved into objects/ by an atomic rename
    locks/         one lock file per cache key being computed, so concurrent runs compute once
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from greenpipe.digest import digest_hex, digest_path
from greenpipe.errors import StoreError
from greenpipe.object_files import copy_links_in, make_read_only, remove_object, size_of
from greenpipe.store_schema import ADDED_COLUMNS, SCHEMA

# Called with (store, digest) when an object is missing, before the store reports it missing: greenpipe.shared_state
# adds its fetch from the shared location when imported (the store does not import it: arrows point one way).
MISSING_OBJECT_FETCHERS: list[Callable[[Store, str], None]] = []
# Called with (store, table names, what needs them) when a component declares its tables, before they are
# created: greenpipe.shared_state adds its pull of shared tables the same way.
TABLE_DECLARATION_HOOKS: list[Callable[[Store, tuple[str, ...], str], None]] = []


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
            self._local.declared = set()  # the component DDL this connection ran (declare_tables)
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

    def declare_tables(self, names: Sequence[str], ddl: str, shared_for: str | None) -> None:
        """A component's own tables: `ddl` creates `names` if absent (CREATE ... IF NOT EXISTS); call before
        reading or writing them. The DDL runs once per connection.

        `shared_for` names what needs them as state shared between runs (e.g. "the model registry"): in a
        container job they are then pulled from the shared location first (greenpipe.shared_state). None for
        tables that stay with this store, as the ledger does (a tuner's measured trials)."""
        if shared_for is not None:
            for hook in TABLE_DECLARATION_HOOKS:
                hook(self, tuple(names), shared_for)
        db = self.connection()
        declared: set[str] = self._local.declared
        if ddl not in declared:
            db.executescript(ddl)
            declared.add(ddl)

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
        copy_links_in(path)
        digest = digest or digest_path(path)
        target = self._object_file(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() and self.digest_of(target) != digest:
            self._quarantine(target)  # a stored copy was damaged: the fresh one takes its place
        if target.exists():
            remove_object(path)
        else:
            make_read_only(path)
            try:
                os.rename(path, target)
            except OSError:  # another run stored the same content a moment ago
                if not target.exists():
                    raise
                remove_object(path)
        size = size_of(target)
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
        remove_object(aside)

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

    # -- named queries: the store's tables are read and changed here (and written by greenpipe.run_log) -------

    def run(self, run_id: str) -> sqlite3.Row | None:
        rows = self.query("SELECT * FROM runs WHERE run_id=?", (run_id,))
        return rows[0] if rows else None

    def latest_run_id(self, status: str | None = None) -> str | None:
        """The run started last (with this status, if given)."""
        where, args = ("WHERE status=?", (status,)) if status else ("", ())
        rows = self.query(f"SELECT run_id FROM runs {where} ORDER BY started DESC LIMIT 1", args)
        return str(rows[0]["run_id"]) if rows else None

    def run_ids_since(self, cutoff: float) -> list[str]:
        return [
            r["run_id"] for r in self.query("SELECT run_id FROM runs WHERE started >= ? ORDER BY started", (cutoff,))
        ]

    def run_summaries(self, limit: int) -> list[sqlite3.Row]:
        """The latest runs, newest first, each with its executions' energy, CO2e, avoided CO2e and step counts."""
        return self.query(
            "SELECT r.run_id, r.pipeline, r.status, r.started, r.finished, r.region, "
            "COALESCE(SUM(e.energy_kwh),0) AS kwh, COALESCE(SUM(e.co2e_g),0) AS g, "
            "COALESCE(SUM(e.avoided_co2e_g),0) AS av, "
            "SUM(e.status='ran') AS ran, SUM(e.status='cached') AS cached FROM runs r "
            "LEFT JOIN executions e ON e.run_id=r.run_id GROUP BY r.run_id ORDER BY r.started DESC LIMIT ?",
            (limit,),
        )

    def latest_execution_of_task(self, pipeline: str, task: str, statuses: Sequence[str]) -> sqlite3.Row | None:
        """The latest execution of this task in this pipeline (whatever step it ran) with one of `statuses`."""
        rows = self.query(
            f"SELECT * FROM executions WHERE pipeline=? AND task=? AND status IN ({_marks(statuses)}) "
            "ORDER BY finished DESC LIMIT 1",
            (pipeline, task, *statuses),
        )
        return rows[0] if rows else None

    def latest_execution_of_step(
        self, step_ref: str, statuses: Sequence[str], prefer: tuple[str, str] = ("", "")
    ) -> sqlite3.Row | None:
        """The latest execution of this step anywhere with one of `statuses`; one of the `prefer`red
        (pipeline, task) first."""
        rows = self.query(
            f"SELECT * FROM executions WHERE step_ref=? AND status IN ({_marks(statuses)}) "
            "ORDER BY (pipeline=? AND task=?) DESC, finished DESC LIMIT 1",
            (step_ref, *statuses, *prefer),
        )
        return rows[0] if rows else None

    def running_exec_ids(self) -> set[str]:
        return {r["exec_id"] for r in self.query("SELECT exec_id FROM executions WHERE status='running'")}

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

    def digests_of_run(self, run_id: str) -> set[str]:
        """Every artifact a run produced so far or read."""
        return {
            r["digest"]
            for r in self.query(
                "SELECT o.digest FROM outputs o JOIN executions e ON e.exec_id = o.exec_id WHERE e.run_id=? "
                "UNION SELECT i.digest FROM inputs i JOIN executions e ON e.exec_id = i.exec_id WHERE e.run_id=?",
                (run_id, run_id),
            )
        }

    # cache index

    def cache_entry(self, key: str) -> sqlite3.Row | None:
        """The execution a cache key points to: its exec_id, values, measured energy, and the entry's creation."""
        rows = self.query(
            "SELECT c.created, e.exec_id, e.vals, e.energy_kwh FROM cache c JOIN executions e ON e.exec_id=c.exec_id "
            "WHERE c.cache_key=?",
            (key,),
        )
        return rows[0] if rows else None

    def touch_cache(self, exec_id: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE cache SET last_used=? WHERE exec_id=?", (time.time(), exec_id))

    def cache_keys_unused_since(self, cutoff: float) -> list[str]:
        return [r["cache_key"] for r in self.query("SELECT cache_key FROM cache WHERE last_used < ?", (cutoff,))]

    def digests_kept(self, cutoff: float) -> set[str]:
        """Artifacts gc keeps whatever their age: outputs of cache entries used since `cutoff`, and pinned ones."""
        sql = (
            "SELECT o.digest FROM cache c JOIN outputs o ON o.exec_id = c.exec_id WHERE c.last_used >= ? "
            "UNION SELECT digest FROM pins"
        )
        return {r["digest"] for r in self.query(sql, (cutoff,))}

    def drop_cache_entries(self, cutoff: float, db: sqlite3.Connection) -> None:
        db.execute("DELETE FROM cache WHERE last_used < ?", (cutoff,))

    # artifacts and pins

    def artifact_kinds(self) -> dict[str, str]:
        return {r["digest"]: r["kind"] for r in self.query("SELECT digest, kind FROM artifacts")}

    def artifact_kind(self, digest: str) -> str | None:
        rows = self.query("SELECT kind FROM artifacts WHERE digest=?", (digest,))
        return str(rows[0]["kind"]) if rows else None

    def live_artifacts(self, created_before: float | None = None) -> list[sqlite3.Row]:
        """Stored artifacts not forgotten (digest, size), by digest; only those created before a time, if given."""
        since = "" if created_before is None else " AND created < ?"
        args: tuple[object, ...] = () if created_before is None else (created_before,)
        return self.query(f"SELECT digest, size FROM artifacts WHERE deleted IS NULL{since} ORDER BY digest", args)

    def forget_artifacts(self, digests: Iterable[str], db: sqlite3.Connection, when: float | None = None) -> None:
        """Mark artifacts deleted (their files go after this commits: a crash leaves only unreferenced files)."""
        when = when or time.time()
        db.executemany("UPDATE artifacts SET deleted=? WHERE digest=?", [(when, d) for d in digests])

    def pins(self) -> set[tuple[str, str]]:
        return {(r["digest"], r["owner"]) for r in self.query("SELECT digest, owner FROM pins")}

    # a whole table, for shared state: copied out as rows and replaced wholesale

    def table_rows(self, name: str) -> dict[str, Any] | None:
        """A table's schema, column names and rows (None if absent)."""
        db = self.connection()
        schema = db.execute("SELECT sql FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone()
        if schema is None:
            return None
        cursor = db.execute(f"SELECT * FROM {name} ORDER BY rowid")
        columns = [c[0] for c in cursor.description]
        return {"schema": schema[0], "columns": columns, "rows": [list(row) for row in cursor.fetchall()]}

    def replace_table(self, name: str, table: dict[str, Any]) -> None:
        """Make the table hold exactly `table` (as `table_rows` gives it), creating it if absent."""
        with self.transaction() as db:
            if db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone() is None:
                db.execute(table["schema"])
            db.execute(f"DELETE FROM {name}")
            if table["rows"]:
                columns = ", ".join(table["columns"])
                marks = ", ".join("?" for _ in table["columns"])
                db.executemany(f"INSERT INTO {name} ({columns}) VALUES ({marks})", table["rows"])

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


def _marks(values: Sequence[object]) -> str:
    return ",".join("?" for _ in values)


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

"""The feature catalog: tables in the greenpipe store's SQLite that say what was computed and where it lives.

feature_dedup_groups   one stored table per transform identity (code + declaration); rows from every source
                       snapshot land in it once per (entity key, event time)
feature_dedup_parts    the Parquet files of a group, in write order
feature_dedup_sets     one row per fingerprint (transform + source content + params): the parts holding
                       its rows and what computing it measured. PRIMARY KEY fingerprint: a lookup is one index probe.
feature_dedup_names    (name, version) -> group: teams may name the same group differently
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass

from greenpipe.components.feature_dedup.feature_set import FeatureSet, FeatureSetError
from greenpipe.store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS feature_dedup_groups (
    group_id TEXT PRIMARY KEY, transform TEXT NOT NULL, code_fp TEXT NOT NULL, declaration TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS feature_dedup_parts (
    group_id TEXT NOT NULL, part INTEGER NOT NULL, relpath TEXT NOT NULL, rows INTEGER NOT NULL,
    PRIMARY KEY (group_id, part)
);
CREATE TABLE IF NOT EXISTS feature_dedup_sets (
    fingerprint TEXT PRIMARY KEY, group_id TEXT NOT NULL, source_digest TEXT NOT NULL, parts TEXT NOT NULL,
    selection TEXT, rows INTEGER NOT NULL, skipped INTEGER NOT NULL, cpu_s REAL NOT NULL,
    wall_s REAL NOT NULL,
    peak_mb REAL NOT NULL, energy_kwh REAL NOT NULL, exec_id TEXT, created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS feature_dedup_names (
    name TEXT NOT NULL, version INTEGER NOT NULL, group_id TEXT NOT NULL, transform TEXT NOT NULL,
    code_fp TEXT NOT NULL, created REAL NOT NULL, PRIMARY KEY (name, version)
);
"""
# The catalog is state that outlives a run: in a KFP pod or SageMaker job it lives at GREENPIPE_SHARED
TABLE_NAMES = ("feature_dedup_groups", "feature_dedup_parts", "feature_dedup_sets", "feature_dedup_names")


@dataclass(frozen=True)
class StoredSet:
    """A computed feature set: the parts holding its rows and what computing it measured."""

    fingerprint: str
    group_id: str
    parts: list[str]  # paths relative to the store home
    selection: str | None  # (key, time) rows to keep when the parts also hold other snapshots' rows
    rows: int
    skipped: int
    cpu_s: float
    wall_s: float
    energy_kwh: float
    exec_id: str | None

    @property
    def traced_to(self) -> str:
        where = f"exec:{self.exec_id}" if self.exec_id else "a direct call"
        return (
            f"measured {self.energy_kwh * 1000:.6g} Wh ({self.cpu_s:.3f} CPU s, {self.wall_s:.3f} s) "
            "computing "
            f"{self.fingerprint} in {where}"
        )


class FeatureCatalog:
    """Reads and writes the feature_dedup_* tables of one greenpipe store."""

    def __init__(self, store: Store):
        self.store = store
        store.declare_tables(TABLE_NAMES, SCHEMA, shared_for="the feature catalog")

    def find(self, fingerprint: str) -> StoredSet | None:
        """The stored set with this fingerprint (a primary-key probe), or None."""
        row = (
            self.store.connection()
            .execute("SELECT * FROM feature_dedup_sets WHERE fingerprint=?", (fingerprint,))
            .fetchone()
        )
        if row is None:
            return None
        return StoredSet(
            row["fingerprint"],
            row["group_id"],
            json.loads(row["parts"]),
            row["selection"],
            row["rows"],
            row["skipped"],
            row["cpu_s"],
            row["wall_s"],
            row["energy_kwh"],
            row["exec_id"],
        )

    def check_name(self, feature_set: FeatureSet, group_id: str) -> None:
        """Refuse a (name, version) already declared with a different transform or declaration."""
        row = (
            self.store.connection()
            .execute(
                "SELECT group_id, transform, code_fp FROM feature_dedup_names WHERE name=? AND version=?",
                (feature_set.name, feature_set.version),
            )
            .fetchone()
        )
        if row is None or row["group_id"] == group_id:
            return
        latest = (
            self.store.connection()
            .execute("SELECT MAX(version) FROM feature_dedup_names WHERE name=?", (feature_set.name,))
            .fetchone()[0]
        )
        raise FeatureSetError(
            f"feature set {feature_set.name!r} version {feature_set.version} is already declared "
            "with transform "
            f"{row['transform']} (code {row['code_fp']}); {feature_set.transform_ref} with these params "
            "differs. "
            f"To register it, ask for a new version: version={latest + 1}"
        )

    def parts(self, group_id: str) -> list[sqlite3.Row]:
        return (
            self.store.connection()
            .execute(
                "SELECT part, relpath, rows FROM feature_dedup_parts WHERE group_id=? ORDER BY part",
                (group_id,),
            )
            .fetchall()
        )

    def declaration(self, group_id: str) -> dict:
        """The feature set declaration a group was registered with (entity_key, event_time, ...)."""
        row = (
            self.store.connection()
            .execute("SELECT declaration FROM feature_dedup_groups WHERE group_id=?", (group_id,))
            .fetchone()
        )
        return json.loads(row["declaration"])

    def group_of(self, name: str, version: int | None = None) -> sqlite3.Row:
        """The group a name points to (its latest version unless one is given)."""
        if version is None:
            row = (
                self.store.connection()
                .execute("SELECT * FROM feature_dedup_names WHERE name=? ORDER BY version DESC LIMIT 1", (name,))
                .fetchone()
            )
        else:
            row = (
                self.store.connection()
                .execute("SELECT * FROM feature_dedup_names WHERE name=? AND version=?", (name, version))
                .fetchone()
            )
        if row is None:
            known = [
                r[0]
                for r in self.store.connection().execute(
                    "SELECT DISTINCT name FROM feature_dedup_names ORDER BY name LIMIT 20"
                )
            ]
            raise FeatureSetError(
                f"feature set name={name!r}"
                + (f" version={version}" if version else "")
                + f" is not in the catalog; known names: {known or '(none)'}"
            )
        group = (
            self.store.connection()
            .execute("SELECT * FROM feature_dedup_groups WHERE group_id=?", (row["group_id"],))
            .fetchone()
        )
        return group  # type: ignore[no-any-return]

    def register_name(self, db: sqlite3.Connection, feature_set: FeatureSet, group_id: str, code_fp: str) -> None:
        db.execute(
            "INSERT OR IGNORE INTO feature_dedup_names "
            "(name, version, group_id, transform, code_fp, created) "
            "VALUES (?,?,?,?,?,?)",
            (
                feature_set.name,
                feature_set.version,
                group_id,
                feature_set.transform_ref,
                code_fp,
                time.time(),
            ),
        )

    def register_group(self, db: sqlite3.Connection, feature_set: FeatureSet, group_id: str, code_fp: str) -> None:
        db.execute(
            "INSERT OR IGNORE INTO feature_dedup_groups (group_id, transform, code_fp, declaration, created) "
            "VALUES (?,?,?,?,?)",
            (group_id, feature_set.transform_ref, code_fp, feature_set.declaration(), time.time()),
        )

    def add_part(self, db: sqlite3.Connection, group_id: str, part: int, relpath: str, rows: int) -> None:
        db.execute(
            "INSERT INTO feature_dedup_parts (group_id, part, relpath, rows) VALUES (?,?,?,?)",
            (group_id, part, relpath, rows),
        )

    def add_set(self, db: sqlite3.Connection, stored: StoredSet, source_digest: str, peak_mb: float) -> None:
        db.execute(
            "INSERT OR REPLACE INTO feature_dedup_sets (fingerprint, group_id, source_digest, parts, selection, "
            "rows, skipped, cpu_s, wall_s, peak_mb, energy_kwh, exec_id, created) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                stored.fingerprint,
                stored.group_id,
                source_digest,
                json.dumps(stored.parts),
                stored.selection,
                stored.rows,
                stored.skipped,
                stored.cpu_s,
                stored.wall_s,
                peak_mb,
                stored.energy_kwh,
                stored.exec_id,
                time.time(),
            ),
        )

    def forget_missing(self, group_id: str) -> int:
        """Drop parts whose files were deleted and the sets that need them; return how many sets were dropped."""
        home = self.store.home
        gone = [r["relpath"] for r in self.parts(group_id) if not (home / r["relpath"]).exists()]
        if not gone:
            return 0
        dropped = 0
        with self.store.transaction() as db:
            for relpath in gone:
                db.execute("DELETE FROM feature_dedup_parts WHERE group_id=? AND relpath=?", (group_id, relpath))
            for row in db.execute(
                "SELECT fingerprint, parts FROM feature_dedup_sets WHERE group_id=?", (group_id,)
            ).fetchall():
                if set(json.loads(row["parts"])) & set(gone):
                    db.execute("DELETE FROM feature_dedup_sets WHERE fingerprint=?", (row["fingerprint"],))
                    dropped += 1
        return dropped

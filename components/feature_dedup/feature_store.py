"""The embedded feature store: Parquet parts under GREENPIPE_HOME/features, a catalog in the store's SQLite.

A feature set is computed at most once per fingerprint. Rows are stored once per (entity key, event time) in
the group of their transform, so a re-run on a grown source writes only the new rows.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from greenpipe.artifacts import write_atomic
from greenpipe.components.feature_dedup.catalog import FeatureCatalog, StoredSet
from greenpipe.components.feature_dedup.feature_set import FeatureSet, FeatureSetError
from greenpipe.digest import digest_hex
from greenpipe.ledger import UsageMeter, formula_kwh
from greenpipe.shared_state import shared_folder
from greenpipe.store import Store

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class IngestReport:
    """What one ingest wrote: rows new to the store, rows skipped as already stored or repeated in the frame.

    A skipped row keeps the values stored first; `conflicts` counts skipped rows whose values differ from them
    (a transform whose output for one (key, time) depends on how much history the source holds).
    """

    group_id: str
    written: int
    skipped: int
    part: str | None  # the new Parquet file, None when every row was already stored
    conflicts: int = 0


@dataclass(frozen=True)
class FeatureResult:
    """The outcome of `FeatureStore.get_or_compute`."""

    hit: bool
    stored: StoredSet
    ingest: IngestReport | None  # None on a hit


class FeatureStore:
    """Feature sets stored in one greenpipe store (`home`)."""

    def __init__(self, home: str | os.PathLike[str] | Store):
        self.store = home if isinstance(home, Store) else Store(home).create()
        self.home = self.store.home
        self.root = shared_folder(self.home, "features", "the feature store's Parquet parts")
        self.catalog = FeatureCatalog(self.store)

    # -- compute once -------------------------------------------------------------------------------------

    def lookup(self, feature_set: FeatureSet, source_digest: str) -> tuple[str, str, str, StoredSet | None]:
        """(code digest, group id, fingerprint, stored set or None); refuses a name another transform took."""
        code = feature_set.code_digest()
        group_id = feature_set.group_id(code)
        self.catalog.check_name(feature_set, group_id)
        fingerprint = feature_set.fingerprint(code, source_digest)
        found = self.catalog.find(fingerprint)
        if found is not None and not all((self.home / p).exists() for p in found.parts):
            self.catalog.forget_missing(found.group_id)  # a deleted part is a miss, never a broken hit
            found = None
        return code, group_id, fingerprint, found

    def get_or_compute(
        self,
        feature_set: FeatureSet,
        source: str | os.PathLike[str],
        source_digest: str | None = None,
        exec_id: str | None = None,
    ) -> FeatureResult:
        """Return the stored features for (transform, source content, params), computing them only on a miss.

        Args:
            source: a Parquet file the transform reads.
            source_digest: its content digest if known (an input artifact's .digest), else read from disk.
            exec_id: the execution computing it, recorded so a later hit can trace its credit.
        """
        digest = source_digest or self.store.digest_of(source)
        code, group_id, fingerprint, found = self.lookup(feature_set, digest)
        if found is not None:
            with self.store.transaction() as db:
                self.catalog.register_name(db, feature_set, group_id, code)
            return FeatureResult(True, found, None)
        import pandas as pd

        frame = pd.read_parquet(source)
        fn = feature_set.transform_fn()
        with UsageMeter() as meter:
            computed = fn(frame, **feature_set.params)
        energy = formula_kwh(meter.cpu_s, meter.wall_s, meter.peak_mb / 1024)
        selected = feature_set.select(computed)
        with self._group_lock(group_id):
            again = self.catalog.find(fingerprint)  # another process computed it while we did
            if again is not None:
                return FeatureResult(True, again, None)
            report, parts, selection = self._ingest_locked(feature_set, group_id, code, selected, fingerprint)
            rows = len(selected.drop_duplicates(subset=[*feature_set.keys, feature_set.event_time]))
            stored = StoredSet(
                fingerprint,
                group_id,
                parts,
                selection,
                rows,
                report.skipped,
                meter.cpu_s,
                meter.wall_s,
                energy,
                exec_id,
            )
            with self.store.transaction() as db:
                self.catalog.add_set(db, stored, digest, meter.peak_mb)
        return FeatureResult(False, stored, report)

    # -- ingest -------------------------------------------------------------------------------------------

    def ingest(self, feature_set: FeatureSet, frame: pd.DataFrame) -> IngestReport:
        """Store rows of `feature_set` directly; rows equal on (entity key, event time) to stored ones skip."""
        code = feature_set.code_digest()
        group_id = feature_set.group_id(code)
        self.catalog.check_name(feature_set, group_id)
        selected = feature_set.select(frame)
        with self._group_lock(group_id):
            return self._ingest_locked(feature_set, group_id, code, selected, None)[0]

    def _ingest_locked(
        self, feature_set: FeatureSet, group_id: str, code: str, frame: pd.DataFrame, fingerprint: str | None
    ) -> tuple[IngestReport, list[str], str | None]:
        """Write rows new to the group; return the report, the parts holding the frame's rows, a selection."""
        import duckdb

        keys = [*feature_set.keys, feature_set.event_time]
        unique = frame.drop_duplicates(subset=keys, keep="first")
        existing = self.catalog.parts(group_id)
        folder = self.root / digest_hex(group_id)
        con = duckdb.connect()
        try:
            con.register("incoming", unique)
            on = " AND ".join(f"s.{_q(k)} = i.{_q(k)}" for k in keys)
            covering: list[str] = []
            exact = True
            if existing:
                files = [str(self.home / r["relpath"]) for r in existing]
                con.execute(f"CREATE TEMP VIEW stored AS SELECT * FROM read_parquet({_sql_list(files)}, filename=true)")
                counts = dict(
                    con.execute(
                        f"SELECT s.filename, count(*) FROM stored s SEMI JOIN incoming i ON {on} GROUP BY s.filename"
                    ).fetchall()
                )
                for row, path in zip(existing, files, strict=True):
                    if path in counts:
                        covering.append(row["relpath"])
                        exact = exact and counts[path] == row["rows"]
                fresh = con.execute(f"SELECT i.* FROM incoming i ANTI JOIN stored s ON {on}").df()
                values = [c for c in unique.columns if c not in keys]
                differs = " OR ".join(f"i.{_q(c)} IS DISTINCT FROM s.{_q(c)}" for c in values) or "false"
                counted = con.execute(
                    f"SELECT count(*) FROM incoming i JOIN stored s ON {on} WHERE {differs}"
                ).fetchone()
                conflicts = counted[0] if counted else 0  # count(*) always returns one row
            else:
                fresh, conflicts = unique, 0
            skipped = len(frame) - len(fresh)
            part_rel: str | None = None
            if len(fresh):
                number = (existing[-1]["part"] + 1) if existing else 0
                target = folder / f"part-{number:05d}.parquet"
                _write_parquet(fresh.reset_index(drop=True), target)
                part_rel = str(target.relative_to(self.home))
                covering.append(part_rel)
            selection = None
            if fingerprint is not None and not exact:  # the parts hold rows of other snapshots too
                sel_path = folder / f"select-{digest_hex(fingerprint)}.parquet"
                _write_parquet(unique[keys].reset_index(drop=True), sel_path)
                selection = str(sel_path.relative_to(self.home))
            with self.store.transaction() as db:
                self.catalog.register_group(db, feature_set, group_id, code)
                self.catalog.register_name(db, feature_set, group_id, code)
                if part_rel is not None:
                    self.catalog.add_part(db, group_id, number, part_rel, len(fresh))
        finally:
            con.close()
        return IngestReport(group_id, len(fresh), skipped, part_rel, int(conflicts)), covering, selection

    # -- reads --------------------------------------------------------------------------------------------

    def materialize(self, stored: StoredSet, dest: str | os.PathLike[str]) -> Path:
        """Write the set's rows as one Parquet file at `dest` (a hard link when one part holds just them)."""
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        files = [self.home / p for p in stored.parts]
        if len(files) == 1 and stored.selection is None:
            try:
                os.link(files[0], dest)
            except OSError:  # another filesystem
                shutil.copyfile(files[0], dest)
            return dest
        import duckdb

        with duckdb.connect() as con:
            con.execute("SET preserve_insertion_order=true")
            query = f"SELECT * FROM read_parquet({_sql_list([str(f) for f in files])})"
            if stored.selection is not None:
                decl = self.catalog.declaration(stored.group_id)
                on = " AND ".join(f"s.{_q(k)} = k.{_q(k)}" for k in [*decl["entity_key"], decl["event_time"]])
                query = (
                    f"SELECT s.* FROM ({query}) s "
                    f"SEMI JOIN read_parquet({_lit(str(self.home / stored.selection))}) k "
                    f"ON {on}"
                )
            write_atomic(dest, lambda tmp: con.execute(f"COPY ({query}) TO {_lit(tmp)} (FORMAT parquet)"))
        return dest

    def read(self, name: str, version: int | None = None) -> pd.DataFrame:
        """Every stored row of a named feature set (its latest version unless one is given)."""
        import pandas as pd

        group = self.catalog.group_of(name, version)
        files = [self.home / r["relpath"] for r in self.catalog.parts(group["group_id"])]
        if not files:
            raise FeatureSetError(f"feature set {name!r} has no stored rows yet")
        return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)

    def training_frame(
        self,
        labels: pd.DataFrame,
        name: str,
        label_time: str,
        version: int | None = None,
        inclusive: bool = True,
    ) -> pd.DataFrame:
        """Labels joined to the named feature set's values as of each label's time (never later)."""
        from greenpipe.components.feature_dedup.point_in_time import as_of_join

        group = self.catalog.group_of(name, version)
        decl = json.loads(group["declaration"])
        return as_of_join(
            labels,
            self.read(name, version),
            decl["entity_key"],
            label_time,
            decl["event_time"],
            inclusive=inclusive,
        )

    @contextmanager
    def _group_lock(self, group_id: str) -> Iterator[None]:
        locks = self.root / "locks"
        locks.mkdir(parents=True, exist_ok=True)
        with open(locks / f"{digest_hex(group_id)}.lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield


def _write_parquet(frame: pd.DataFrame, target: Path) -> None:
    write_atomic(target, lambda tmp: frame.to_parquet(tmp, index=False))


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _sql_list(paths: list[str]) -> str:
    return "[" + ", ".join(_lit(p) for p in paths) + "]"

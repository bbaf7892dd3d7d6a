"""Data lifecycle: delete cached artifacts nobody has used for a while, and report the bytes freed."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass

from greenpipe.run_log import live_runs
from greenpipe.store import Store, remove_object


@dataclass
class GcReport:
    cache_entries_dropped: int
    artifacts_deleted: int
    bytes_freed: int
    tmp_dirs_removed: int

    def to_dict(self) -> dict[str, int]:
        return dict(vars(self))


def collect_garbage(store: Store, older_than_s: float, dry_run: bool = False, now: float | None = None) -> GcReport:
    """Drop cache entries unused for `older_than_s`, then delete artifacts that no remaining cache entry,
    pin (registry, baselines) or live run (what it produced so far and what it reads) needs and that are older
    than that too.

    History (runs, executions, lineage, ledger) is kept: it is small and it is the audit trail.
    """
    now = now or time.time()
    cutoff = now - older_than_s
    if not store.exists:
        return GcReport(0, 0, 0, 0)
    stale = store.query("SELECT cache_key FROM cache WHERE last_used < ?", (cutoff,))
    keep_sql = (
        "SELECT o.digest FROM cache c JOIN outputs o ON o.exec_id = c.exec_id WHERE c.last_used >= ? "
        "UNION SELECT digest FROM pins"
    )
    keep = {r["digest"] for r in store.query(keep_sql, (cutoff,))}
    for run_id in live_runs(store, now):
        keep |= {
            r["digest"]
            for r in store.query(
                "SELECT o.digest FROM outputs o JOIN executions e ON e.exec_id = o.exec_id WHERE e.run_id=? "
                "UNION SELECT i.digest FROM inputs i JOIN executions e ON e.exec_id = i.exec_id WHERE e.run_id=?",
                (run_id, run_id),
            )
        }
    candidates = store.query("SELECT digest, size FROM artifacts WHERE deleted IS NULL AND created < ?", (cutoff,))
    doomed = [r for r in candidates if r["digest"] not in keep]
    running = {r["exec_id"] for r in store.query("SELECT exec_id FROM executions WHERE status='running'")}
    tmp_root = store.home / "tmp"
    tmp_dirs = [p for p in tmp_root.iterdir() if p.name not in running] if tmp_root.exists() else []
    report = GcReport(len(stale), len(doomed), sum(int(r["size"]) for r in doomed), len(tmp_dirs))
    if dry_run:
        return report
    with store.transaction() as db:
        db.execute("DELETE FROM cache WHERE last_used < ?", (cutoff,))
        for row in doomed:
            db.execute("UPDATE artifacts SET deleted=? WHERE digest=?", (now, row["digest"]))
    for row in doomed:  # files go after the index says they are gone: a crash leaves only unreferenced files
        path = store.object_path(row["digest"])
        if path.exists():
            remove_object(path)
    for path in tmp_dirs:
        shutil.rmtree(path, ignore_errors=True)
    return report

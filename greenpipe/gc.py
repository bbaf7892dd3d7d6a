"""Data lifecycle: delete cached artifacts nobody has used for a while, and report the bytes freed."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass

from greenpipe.object_files import remove_object
from greenpipe.run_log import live_runs
from greenpipe.store import Store


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
    stale = store.cache_keys_unused_since(cutoff)
    keep = store.digests_kept(cutoff)
    for run_id in live_runs(store, now):
        keep |= store.digests_of_run(run_id)
    doomed = [r for r in store.live_artifacts(created_before=cutoff) if r["digest"] not in keep]
    running = store.running_exec_ids()
    tmp_root = store.home / "tmp"
    tmp_dirs = [p for p in tmp_root.iterdir() if p.name not in running] if tmp_root.exists() else []
    report = GcReport(len(stale), len(doomed), sum(int(r["size"]) for r in doomed), len(tmp_dirs))
    if dry_run:
        return report
    with store.transaction() as db:
        store.drop_cache_entries(cutoff, db)
        store.forget_artifacts([r["digest"] for r in doomed], db, when=now)
    for row in doomed:  # files go after the index says they are gone: a crash leaves only unreferenced files
        path = store.object_path(row["digest"])
        if path.exists():
            remove_object(path)
    for path in tmp_dirs:
        shutil.rmtree(path, ignore_errors=True)
    return report

"""`greenpipe verify`: re-read every stored object and compare it with its digest, for the paranoid.

A cache hit normally trusts a file whose stat (size, mtime, ctime, inode) is unchanged since it was hashed.
This reads every byte instead. A damaged object is moved aside to tmp/corrupt/ (kept for inspection, never
deleted), so the next run finds it missing and recomputes it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from greenpipe.store import Store


@dataclass
class VerifyReport:
    checked: int = 0
    corrupt: list[str] = field(default_factory=list)  # digests whose content no longer matches
    missing: list[str] = field(default_factory=list)  # digests whose object is gone

    @property
    def ok(self) -> bool:
        return not self.corrupt and not self.missing

    def to_dict(self) -> dict[str, object]:
        return {"checked": self.checked, "corrupt": self.corrupt, "missing": self.missing, "ok": self.ok}


def verify_store(store: Store) -> VerifyReport:
    """Rehash every live object; move damaged ones aside and forget them, so they are recomputed."""
    report = VerifyReport()
    rows = store.live_artifacts()
    for row in rows:
        digest = str(row["digest"])
        path = store.object_path(digest)
        report.checked += 1
        if not path.exists():
            report.missing.append(digest)
            continue
        if store.digest_of(path, rehash=True) != digest:
            report.corrupt.append(digest)
            aside = store.tmp_dir("corrupt") / f"{path.name}-{int(time.time())}"
            os.rename(path, aside)
    damaged = report.corrupt + report.missing
    if damaged:
        with store.transaction() as db:
            store.forget_artifacts(damaged, db)
    return report

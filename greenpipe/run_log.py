"""What a run writes to the store: the run's row, each execution with its lineage, ledger credits and cache entry.

Each write is one transaction, made after the outputs it names are in objects/: a crash between two writes leaves
finished executions recorded and the rest absent, never half of one.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from greenpipe import __version__
from greenpipe.cache import KeyParts
from greenpipe.ledger import PROJECTED, GridIntensity, Usage, co2e_g
from greenpipe.pipeline import Task
from greenpipe.store import Store

if TYPE_CHECKING:
    from greenpipe.results import StepResult


class RunLog:
    """The store's record of one pipeline's runs."""

    def __init__(self, store: Store, pipeline: str, intensity: GridIntensity, energy: str):
        self.store = store
        self.pipeline = pipeline
        self.intensity = intensity
        self.energy = energy

    def open_run(self, params: dict[str, Any]) -> str:
        """Record a new run (after marking runs killed earlier as interrupted); return its id."""
        self.mark_interrupted_runs()
        run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO runs (run_id, pipeline, status, params, region, intensity_g_per_kwh, intensity_source, "
                "energy_method, started, pid, host) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    run_id,
                    self.pipeline,
                    "running",
                    json.dumps(params, sort_keys=True, default=str),
                    self.intensity.key,
                    self.intensity.g_per_kwh,
                    f"{self.intensity.source} ({self.intensity.year})",
                    self.energy,
                    time.time(),
                    os.getpid(),
                    socket.gethostname(),
                ),
            )
        return run_id

    def close_run(self, run_id: str, status: str) -> None:
        with self.store.transaction() as db:
            db.execute("UPDATE runs SET status=?, finished=? WHERE run_id=?", (status, time.time(), run_id))

    def fail(self, exec_id: str, error: str) -> None:
        with self.store.transaction() as db:
            db.execute(
                "UPDATE executions SET status='failed', finished=?, error=? WHERE exec_id=?",
                (time.time(), error, exec_id),
            )

    def record(
        self,
        run_id: str,
        task: Task,
        result: StepResult,
        parts: KeyParts | None,
        inputs: dict[str, tuple[str, str, str]],
        credits: Sequence[tuple[str, float, str, str]] = (),
        started_only: bool = False,
    ) -> None:
        """Record an execution (cached, skipped, or started) with its inputs, outputs and credits, in one go."""
        now = time.time()
        avoided = sum(c[1] for c in credits if c[0] != PROJECTED)  # a projection is never avoided energy
        result.avoided_wh = avoided * 1000
        result.avoided_co2e_g = co2e_g(avoided, self.intensity)
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO executions (exec_id, run_id, pipeline, task, step_ref, cache_key, status, reason, "
                "started, finished, avoided_kwh, avoided_co2e_g, method, source_exec, fingerprint, version, params, "
                "inputs, vals, varies) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    result.exec_id,
                    run_id,
                    self.pipeline,
                    task.name,
                    task.step.spec.ref,
                    parts.key if parts else None,
                    result.status,
                    result.reason,
                    now,
                    None if started_only else now,
                    avoided,
                    result.avoided_co2e_g,
                    self.energy,
                    credits[0][2][5:] if credits and credits[0][0] == "cache" else None,
                    json.dumps(parts.fingerprint.parts) if parts else None,
                    __version__,
                    json.dumps(parts.params, sort_keys=True, default=str) if parts else None,
                    json.dumps(parts.inputs, sort_keys=True) if parts else None,
                    json.dumps(result.values, sort_keys=True),
                    task.step.spec.varies or None,
                ),
            )
            for name, (digest, _path, source) in inputs.items():
                db.execute(
                    "INSERT OR REPLACE INTO inputs (exec_id, name, digest, source) VALUES (?,?,?,?)",
                    (result.exec_id, name, digest, source),
                )
            for name, digest in result.outputs.items():
                db.execute(
                    "INSERT OR REPLACE INTO outputs (exec_id, name, digest) VALUES (?,?,?)",
                    (result.exec_id, name, digest),
                )
            self._credits(db, result.exec_id, credits)

    def _credits(self, db: Any, exec_id: str | None, credits: Any) -> None:
        for kind, kwh, traced_to, note in credits:
            db.execute(
                "INSERT INTO credits (exec_id, kind, energy_kwh, co2e_g, traced_to, note) VALUES (?,?,?,?,?,?)",
                (exec_id, kind, kwh, co2e_g(kwh, self.intensity), traced_to, note),
            )

    def finish(
        self,
        task: Task,
        result: StepResult,
        usage: Usage,
        parts: KeyParts,
        credits: list[tuple[str, float, str, str]],
    ) -> None:
        """Mark a started execution ran, with its measured usage, outputs, credits and cache entry, in one go."""
        avoided = sum(c[1] for c in credits if c[0] != PROJECTED)  # a projection is never avoided energy
        result.avoided_wh = avoided * 1000
        result.avoided_co2e_g = co2e_g(avoided, self.intensity)
        now = time.time()
        with self.store.transaction() as db:
            db.execute(
                "UPDATE executions SET status='ran', finished=?, wall_s=?, cpu_s=?, peak_mb=?, energy_kwh=?, "
                "co2e_g=?, avoided_kwh=?, avoided_co2e_g=?, method=?, vals=? WHERE exec_id=?",
                (
                    now,
                    usage.wall_s,
                    usage.cpu_s,
                    usage.peak_mb,
                    usage.energy_kwh,
                    result.co2e_g,
                    avoided,
                    result.avoided_co2e_g,
                    usage.method,
                    json.dumps(result.values, sort_keys=True),
                    result.exec_id,
                ),
            )
            for name, digest in result.outputs.items():
                db.execute(
                    "INSERT OR REPLACE INTO outputs (exec_id, name, digest) VALUES (?,?,?)",
                    (result.exec_id, name, digest),
                )
            self._credits(db, result.exec_id, credits)
            if task.step.spec.cache.enabled:
                db.execute(
                    "INSERT OR REPLACE INTO cache (cache_key, exec_id, created, last_used) VALUES (?,?,?,?)",
                    (parts.key, result.exec_id, now, now),
                )

    def mark_interrupted_runs(self) -> None:
        """Runs left 'running' by a process that no longer exists were killed: say so."""
        host = socket.gethostname()
        for row in self.store.query("SELECT run_id, pid, host FROM runs WHERE status='running'"):
            if row["host"] == host and not _alive(row["pid"]):
                with self.store.transaction() as db:
                    db.execute("UPDATE runs SET status='interrupted' WHERE run_id=?", (row["run_id"],))
                    db.execute(
                        "UPDATE executions SET status='interrupted' WHERE run_id=? AND status='running'",
                        (row["run_id"],),
                    )


LEASE_S = 24 * 3600  # a run on another host that shares this store holds its artifacts this long at most


def live_runs(store: Store, now: float | None = None) -> list[str]:
    """Runs still running: their process is alive (this host) or they started less than LEASE_S ago (another
    host). What a live run produced or reads must not be collected; a crashed run's lease ends with its process."""
    host, now = socket.gethostname(), now or time.time()
    rows = store.query("SELECT run_id, pid, host, started FROM runs WHERE status='running'")
    return [
        r["run_id"] for r in rows if (_alive(r["pid"]) if r["host"] == host else float(r["started"]) > now - LEASE_S)
    ]


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

"""The store's own tables (the ledger, lineage, cache index, pins, digest memo); components declare theirs with
`Store.declare_tables`."""

from __future__ import annotations

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

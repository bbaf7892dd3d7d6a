"""The embedded model registry: `registry_*` tables in the greenpipe store's SQLite.

A model name has numbered versions (1, 2, ...), each one model artifact known by its content digest, with its
metrics, the evaluation data they were measured on, its lineage (runs, executions, data digests), the drift
baseline it ships with, its footprint and an approval status. Aliases (`candidate`, `champion`) point at
versions. Registered models and baselines are pinned in the store so `greenpipe gc` keeps them.

These functions are also what reports read: `list_models`, `list_versions`, `aliases`, `get_version`,
`evaluations`, `events`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from greenpipe.components.register.errors import ModelTampered, RegistryError
from greenpipe.store import Store

APPROVAL_STATUSES = ("Approved", "Rejected", "PendingManualApproval")  # SageMaker's ModelApprovalStatus values

TABLES = """
CREATE TABLE IF NOT EXISTS registry_models (
    name TEXT PRIMARY KEY, metric TEXT NOT NULL, higher_is_better INTEGER NOT NULL, owner TEXT,
    description TEXT, created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS registry_versions (
    name TEXT NOT NULL, version INTEGER NOT NULL, model_digest TEXT NOT NULL, run_id TEXT, exec_id TEXT,
    metrics TEXT NOT NULL, eval_digest TEXT NOT NULL, baseline_digest TEXT, data_digests TEXT NOT NULL,
    lineage TEXT NOT NULL, footprint TEXT NOT NULL, approval TEXT NOT NULL, card TEXT, card_exec TEXT,
    created REAL NOT NULL,
    PRIMARY KEY (name, version), UNIQUE (name, model_digest)
);
CREATE TABLE IF NOT EXISTS registry_aliases (
    name TEXT NOT NULL, alias TEXT NOT NULL, version INTEGER NOT NULL, updated REAL NOT NULL,
    PRIMARY KEY (name, alias)
);
CREATE TABLE IF NOT EXISTS registry_evaluations (
    name TEXT NOT NULL, version INTEGER NOT NULL, eval_digest TEXT NOT NULL, metric TEXT NOT NULL,
    value REAL NOT NULL, source TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (name, version, eval_digest, metric)
);
CREATE TABLE IF NOT EXISTS registry_events (
    name TEXT NOT NULL, version INTEGER NOT NULL, event TEXT NOT NULL, detail TEXT NOT NULL, at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class ModelVersion:
    """One registered version, as stored."""

    name: str
    version: int
    model_digest: str
    run_id: str | None
    exec_id: str | None
    metrics: dict[str, float]
    eval_digest: str  # "" when the evaluation data is unknown
    baseline_digest: str | None
    data_digests: dict[str, str]
    lineage: list[dict[str, Any]]
    footprint: dict[str, Any]
    approval: str
    card: dict[str, Any] | None
    created: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# The registry is state that outlives a run: in a KFP pod or SageMaker job it lives at GREENPIPE_SHARED
TABLE_NAMES = ("registry_models", "registry_versions", "registry_aliases", "registry_evaluations", "registry_events")


def ensure_tables(store: Store) -> None:
    store.declare_tables(TABLE_NAMES, TABLES, shared_for="the model registry")


def pin_owner(name: str, version: int) -> str:
    return f"registry:{name}:{version}"


def add_version(
    store: Store,
    *,
    name: str,
    model_digest: str,
    metrics: dict[str, float],
    eval_digest: str,
    baseline_digest: str | None,
    data_digests: dict[str, str],
    lineage: list[dict[str, Any]],
    footprint: dict[str, Any],
    metric: str,
    higher_is_better: bool,
    owner: str,
    description: str,
    run_id: str | None,
    exec_id: str | None,
) -> tuple[int, bool]:
    """Record a model version (or find the one already holding this exact model); return (version, is_new).

    The model and its baseline are pinned in the same transaction, so gc never sees a registered but unpinned
    artifact.
    """
    ensure_tables(store)
    now = time.time()
    with store.transaction() as db:
        row = db.execute("SELECT metric, higher_is_better FROM registry_models WHERE name=?", (name,)).fetchone()
        if row is None:
            db.execute(
                "INSERT INTO registry_models (name, metric, higher_is_better, owner, description, created) "
                "VALUES (?,?,?,?,?,?)",
                (name, metric, int(higher_is_better), owner, description, now),
            )
        elif (row["metric"], bool(row["higher_is_better"])) != (metric, higher_is_better):
            raise RegistryError(
                f"model_name={name!r} is registered with metric={row['metric']!r}, "
                f"higher_is_better={bool(row['higher_is_better'])}; this registration asks metric={metric!r}, "
                f"higher_is_better={higher_is_better}. Use the same metric or a new model_name"
            )
        found = db.execute(
            "SELECT version FROM registry_versions WHERE name=? AND model_digest=?", (name, model_digest)
        ).fetchone()
        if found is not None:
            return int(found["version"]), False
        version = int(
            db.execute("SELECT COALESCE(MAX(version), 0) + 1 FROM registry_versions WHERE name=?", (name,)).fetchone()[
                0
            ]
        )
        db.execute(
            "INSERT INTO registry_versions (name, version, model_digest, run_id, exec_id, metrics, eval_digest, "
            "baseline_digest, data_digests, lineage, footprint, approval, created) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                name,
                version,
                model_digest,
                run_id,
                exec_id,
                json.dumps(metrics, sort_keys=True),
                eval_digest,
                baseline_digest,
                json.dumps(data_digests, sort_keys=True),
                json.dumps(lineage, sort_keys=True),
                json.dumps(footprint, sort_keys=True),
                "PendingManualApproval",
                now,
            ),
        )
        for digest in (model_digest, baseline_digest):
            if digest:
                store.pin(digest, pin_owner(name, version), db)
        _event(db, name, version, "registered", f"model {model_digest}")
    return version, True


def record_evaluation(
    store: Store, name: str, version: int, eval_digest: str, metric: str, value: float, source: str
) -> None:
    """Remember a version's score on one evaluation data set (the latest measurement wins)."""
    ensure_tables(store)
    with store.transaction() as db:
        db.execute(
            "INSERT OR REPLACE INTO registry_evaluations (name, version, eval_digest, metric, value, source, "
            "created) VALUES (?,?,?,?,?,?,?)",
            (name, version, eval_digest, metric, float(value), source, time.time()),
        )


def set_alias(store: Store, name: str, alias: str, version: int, detail: str = "") -> None:
    ensure_tables(store)
    get_version(store, name, version)
    with store.transaction() as db:
        db.execute(
            "INSERT OR REPLACE INTO registry_aliases (name, alias, version, updated) VALUES (?,?,?,?)",
            (name, alias, version, time.time()),
        )
        _event(db, name, version, f"alias:{alias}", detail)


def set_approval(store: Store, name: str, version: int, status: str, detail: str = "") -> None:
    if status not in APPROVAL_STATUSES:
        raise RegistryError(f"approval status={status!r} is not one of {', '.join(APPROVAL_STATUSES)}")
    get_version(store, name, version)
    with store.transaction() as db:
        db.execute("UPDATE registry_versions SET approval=? WHERE name=? AND version=?", (status, name, version))
        _event(db, name, version, f"approval:{status}", detail)


def set_card(store: Store, name: str, version: int, card: dict[str, Any], exec_id: str | None) -> None:
    """Keep the card content, and which execution wrote the card folder (its `card` output)."""
    with store.transaction() as db:
        db.execute(
            "UPDATE registry_versions SET card=?, card_exec=? WHERE name=? AND version=?",
            (json.dumps(card, sort_keys=True), exec_id, name, version),
        )


def add_event(store: Store, name: str, version: int, event: str, detail: str) -> None:
    with store.transaction() as db:
        _event(db, name, version, event, detail)


def _event(db: Any, name: str, version: int, event: str, detail: str) -> None:
    db.execute(
        "INSERT INTO registry_events (name, version, event, detail, at) VALUES (?,?,?,?,?)",
        (name, version, event, detail, time.time()),
    )


# -- reads (for the step, the report and users) ----------------------------------------------------------------


def list_models(store: Store) -> list[dict[str, Any]]:
    """Every registered model name with its metric, version count and aliases."""
    if not _has_tables(store):
        return []
    out = []
    for row in store.query("SELECT * FROM registry_models ORDER BY name"):
        count = store.query("SELECT COUNT(*) AS n FROM registry_versions WHERE name=?", (row["name"],))[0]["n"]
        out.append(
            {
                "name": row["name"],
                "metric": row["metric"],
                "higher_is_better": bool(row["higher_is_better"]),
                "owner": row["owner"],
                "description": row["description"],
                "versions": int(count),
                "aliases": aliases(store, row["name"]),
            }
        )
    return out


def list_versions(store: Store, name: str) -> list[ModelVersion]:
    if not _has_tables(store):
        return []
    rows = store.query("SELECT * FROM registry_versions WHERE name=? ORDER BY version", (name,))
    return [_version_of(r) for r in rows]


def get_version(store: Store, name: str, version: int) -> ModelVersion:
    rows = (
        store.query("SELECT * FROM registry_versions WHERE name=? AND version=?", (name, int(version)))
        if _has_tables(store)
        else []
    )
    if not rows:
        known = [v.version for v in list_versions(store, name)]
        raise RegistryError(f"model {name!r} has no version {version!r}; registered versions: {known or 'none'}")
    return _version_of(rows[0])


def aliases(store: Store, name: str) -> dict[str, int]:
    """Alias -> version for one model (e.g. {"candidate": 3, "champion": 2})."""
    if not _has_tables(store):
        return {}
    return {
        r["alias"]: int(r["version"])
        for r in store.query("SELECT alias, version FROM registry_aliases WHERE name=? ORDER BY alias", (name,))
    }


def version_by_alias(store: Store, name: str, alias: str) -> ModelVersion | None:
    number = aliases(store, name).get(alias)
    return None if number is None else get_version(store, name, number)


def evaluations(store: Store, name: str, version: int) -> list[dict[str, Any]]:
    """Every score measured for a version: on which evaluation data, which metric, and where it came from."""
    if not _has_tables(store):
        return []
    return [
        dict(r)
        for r in store.query(
            "SELECT eval_digest, metric, value, source FROM registry_evaluations WHERE name=? AND version=? "
            "ORDER BY created, rowid",
            (name, version),
        )
    ]


def score_on(store: Store, name: str, version: int, eval_digest: str, metric: str) -> float | None:
    rows = store.query(
        "SELECT value FROM registry_evaluations WHERE name=? AND version=? AND eval_digest=? AND metric=?",
        (name, version, eval_digest, metric),
    )
    return float(rows[0]["value"]) if rows else None


def events(store: Store, name: str) -> list[dict[str, Any]]:
    """What happened to a model, oldest first: registrations, alias moves, approvals, comparisons."""
    if not _has_tables(store):
        return []
    return [
        dict(r)
        for r in store.query(
            "SELECT version, event, detail, at FROM registry_events WHERE name=? ORDER BY at, rowid", (name,)
        )
    ]


def read_card(store: Store, name: str, version: int) -> dict[str, Any]:
    """The SageMaker-format model card content registered with a version."""
    record = get_version(store, name, version)
    if record.card is None:
        raise RegistryError(f"model {name!r} version {version} has no card yet (its register step did not finish)")
    return record.card


def card_folder(store: Store, name: str, version: int) -> Path | None:
    """The stored card folder (model_card.json, card.md, card.html) the register step wrote, if it ran in a
    pipeline (a plain call keeps its card where the caller put it)."""
    get_version(store, name, version)
    rows = store.query("SELECT card_exec FROM registry_versions WHERE name=? AND version=?", (name, version))
    exec_id = rows[0]["card_exec"] if rows else None
    digest = store.outputs_of(exec_id).get("card") if exec_id else None
    return store.object_path(digest) if digest else None


def load_model(store: Store, name: str, version: int) -> Any:
    """Unpickle a registered model, only after its stored bytes match the digest the registry recorded."""
    record = get_version(store, name, version)
    return load_verified(store.object_path(record.model_digest), record.model_digest, f"{name} v{version}")


def load_verified(path: str | Path, expected_digest: str, label: str) -> Any:
    """Verify a model folder (or file) against `expected_digest`, then unpickle its model.pkl."""
    from greenpipe.components.contracts.model_folder import load_model
    from greenpipe.digest import digest_path

    path = Path(path)
    if not path.exists():
        raise RegistryError(
            f"model {label}: its artifact {expected_digest} is no longer in the store "
            f"(looked at {path}); re-run the pipeline that produced it"
        )
    found = digest_path(path)
    if found != expected_digest:
        raise ModelTampered(
            f"model {label}: refused to load {path}: its content digest is {found}, but the registry recorded "
            f"{expected_digest}. The file was changed after registration; nothing was unpickled. Restore the "
            "original artifact or register the new one as a new version"
        )
    return load_model(path)  # verified above against the registry's digest


def _has_tables(store: Store) -> bool:
    """True when there is a registry to read: a read never creates a store just to find nothing in it."""
    if not store.exists:
        return False
    ensure_tables(store)
    return True


def _version_of(row: Any) -> ModelVersion:
    return ModelVersion(
        name=row["name"],
        version=int(row["version"]),
        model_digest=row["model_digest"],
        run_id=row["run_id"],
        exec_id=row["exec_id"],
        metrics=json.loads(row["metrics"]),
        eval_digest=row["eval_digest"],
        baseline_digest=row["baseline_digest"],
        data_digests=json.loads(row["data_digests"]),
        lineage=json.loads(row["lineage"]),
        footprint=json.loads(row["footprint"]),
        approval=row["approval"],
        card=json.loads(row["card"]) if row["card"] else None,
        created=float(row["created"]),
    )

"""Where trials are written down: a Parquet history, and the store table `bayes_tune_trials` beside the ledger."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from greenpipe.components.bayes_tune.tuning import TrialRecord

TABLE = """CREATE TABLE IF NOT EXISTS bayes_tune_trials (
    study TEXT NOT NULL, number INTEGER NOT NULL, exec_id TEXT, run_id TEXT, state TEXT NOT NULL, value REAL,
    params TEXT NOT NULL, rungs INTEGER, trial_equivalents REAL, cpu_s REAL, wall_s REAL, energy_kwh REAL,
    origin TEXT, PRIMARY KEY (study, number))"""


# what a trial measured: it goes to the store table (the ledger's side), never into the history artifact, so equal
# inputs give equal bytes and the steps downstream can hit the cache
MEASURED = ("cpu_s", "wall_s", "energy_kwh", "rung_kwh")


def history_frame(records: list[TrialRecord]) -> Any:
    """One row per trial: state, value, each param as `param_<name>`, rungs run, cost in trial-equivalents."""
    import pandas as pd

    rows = []
    for r in records:
        row = {k: v for k, v in asdict(r).items() if k != "params" and k not in MEASURED}
        row["trial_equivalents"] = row.pop("cost")
        row.update({f"param_{k}": v for k, v in r.params.items()})
        rows.append(row)
    return pd.DataFrame(rows)


def record_trials(ctx: Any, study: str, records: list[TrialRecord]) -> None:
    """Insert the trials this study ran itself; a resumed study keeps the rows of its earlier executions."""
    store = ctx.store()
    store.declare_tables(("bayes_tune_trials",), TABLE, shared_for=None)
    with store.transaction() as db:
        db.executemany(
            "INSERT OR IGNORE INTO bayes_tune_trials VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    study,
                    r.number,
                    ctx.exec_id,
                    ctx.run_id,
                    r.state,
                    r.value,
                    json.dumps(r.params, sort_keys=True),
                    r.rungs,
                    r.cost,
                    r.cpu_s,
                    r.wall_s,
                    r.energy_kwh,
                    r.origin,
                )
                for r in records
                if r.origin != "warm_start"
            ],
        )

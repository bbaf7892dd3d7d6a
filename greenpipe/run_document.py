"""Stored runs as JSON documents: one run (the shape `run --json` prints, plus its params, ledger credits and
lineage), and the list `runs` prints."""

from __future__ import annotations

import json
import time
from typing import Any

from greenpipe.errors import RunNotFound
from greenpipe.results import run_totals
from greenpipe.store import Store


def run_document(store: Store, run_id: str) -> dict[str, Any]:
    """A stored run as the same JSON shape `run --json` prints, plus its ledger credits and lineage."""
    if run_id == "latest":
        latest = store.latest_run_id()
        if latest is None:
            raise RunNotFound(f"no runs in {store.home}: run a pipeline first (greenpipe run train)")
        run_id = latest
    run = store.run(run_id)
    if run is None:
        raise RunNotFound(f"run {run_id!r} is not in {store.home}: list runs with `greenpipe runs`")
    steps, credits, lineage = [], [], []
    for e in store.executions(run_id):
        steps.append(
            {
                "name": e["task"],
                "status": e["status"],
                "reason": e["reason"],
                "exec_id": e["exec_id"],
                "wall_s": e["wall_s"],
                "cpu_s": e["cpu_s"],
                "peak_mb": e["peak_mb"],
                "energy_wh": e["energy_kwh"] * 1000,
                "co2e_g": e["co2e_g"],
                "avoided_wh": e["avoided_kwh"] * 1000,
                "avoided_co2e_g": e["avoided_co2e_g"],
                "method": e["method"],
                "error": (e["error"] or "").split("\n")[0] or None,
                "varies": e["varies"],
            }
        )
        for c in store.credits_of(e["exec_id"]):
            credits.append(
                {
                    "step": e["task"],
                    "kind": c["kind"],
                    "energy_wh": c["energy_kwh"] * 1000,
                    "co2e_g": c["co2e_g"],
                    "traced_to": c["traced_to"],
                    "note": c["note"],
                }
            )
        for name, digest in store.outputs_of(e["exec_id"]).items():
            origin = e["source_exec"] or e["exec_id"]
            lineage.append(
                {
                    "artifact": digest,
                    "output": f"{e['task']}.{name}",
                    "produced_by": origin,
                    "inputs": [
                        {"name": i["name"], "digest": i["digest"], "from": i["source"]}
                        for i in store.inputs_of(e["exec_id"])
                    ],
                }
            )
    totals = run_totals(steps)
    return {
        "run_id": run_id,
        "pipeline": run["pipeline"],
        "status": run["status"],
        "params": json.loads(run["params"]),
        "started": iso_time(run["started"]),
        "region": run["region"],
        "intensity_g_per_kwh": run["intensity_g_per_kwh"],
        "intensity_source": run["intensity_source"],
        "steps": steps,
        "totals": totals,
        "credits": credits,
        "lineage": lineage,
    }


def iso_time(ts: float | None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(ts)) if ts else ""


def run_list(store: Store, limit: int) -> dict[str, Any]:
    """The latest runs, newest first, with their step counts and ledger totals (`greenpipe runs`)."""
    runs = [
        {
            "run_id": r["run_id"],
            "pipeline": r["pipeline"],
            "status": r["status"],
            "started": iso_time(r["started"]),
            "wall_s": round((r["finished"] or r["started"]) - r["started"], 3),
            "ran": r["ran"] or 0,
            "cached": r["cached"] or 0,
            "energy_wh": r["kwh"] * 1000,
            "co2e_g": r["g"],
            "avoided_co2e_g": r["av"],
            "region": r["region"],
        }
        for r in store.run_summaries(limit)
    ]
    return {"runs": runs}

"""AWS regions ranked by grid carbon intensity, each priced at the energy the last succeeded run measured
(`greenpipe regions`)."""

from __future__ import annotations

from typing import Any

from greenpipe.ledger import grid_intensity, intensity_table
from greenpipe.store import Store


def regions_document(store: Store, region: str | None) -> dict[str, Any]:
    """Every region of the intensity table, lowest intensity first; `current` is the one runs here use."""
    current = grid_intensity(region)
    last = store.latest_run_id("succeeded")
    kwh = sum(e["energy_kwh"] for e in store.executions(last)) if last else 0.0
    rows = sorted(intensity_table()["regions"].items(), key=lambda kv: kv[1]["g_per_kwh"])
    regions = [
        {
            "region": key,
            "name": row["name"],
            "g_per_kwh": row["g_per_kwh"],
            "current": key == current.key,
            "last_run_co2e_g": kwh * row["g_per_kwh"],
            "source": row["source"],
            "year": row["year"],
            "data_years": row.get("data_years", ""),
        }
        for key, row in rows
    ]
    return {"current": current.key, "last_run": last, "last_run_energy_wh": kwh * 1000, "regions": regions}

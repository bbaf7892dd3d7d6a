"""A model's footprint: the ledger's measured energy and CO2e summed over every execution in its lineage.

Nothing here is estimated: each figure is a sum of `executions.energy_kwh` / `co2e_g` (what the runner measured
for each execution that ran upstream of the model and its metrics) and of `credits` (energy those executions
avoided, each credit traced to a measurement).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from greenpipe.store import Store


@dataclass
class Footprint:
    energy_kwh: float = 0.0
    co2e_g: float = 0.0
    avoided_kwh: float = 0.0
    avoided_co2e_g: float = 0.0
    cpu_s: float = 0.0
    wall_s: float = 0.0
    avoided_by_kind: dict[str, float] = field(default_factory=dict)  # kWh per credit kind
    executions: list[dict[str, Any]] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    intensity_sources: list[str] = field(default_factory=list)
    energy_methods: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def lineage_executions(store: Store, digests: list[str]) -> list[Any]:
    """Every ran execution upstream of any of these artifacts, each once, in the order they finished."""
    seen: dict[str, Any] = {}
    for digest in digests:
        for row in store.lineage(digest):
            seen.setdefault(row["exec_id"], row)
    return sorted(seen.values(), key=lambda r: (r["finished"] or 0.0, r["exec_id"]))


def footprint_of(store: Store, digests: list[str]) -> Footprint:
    """Sum the ledger over the lineage of `digests` (a model and the metrics that assessed it)."""
    rows = lineage_executions(store, digests)
    fp = Footprint()
    by_kind: dict[str, float] = defaultdict(float)
    avoided_kwh: list[float] = []
    avoided_g: list[float] = []
    regions, sources, methods, hosts, runs = set(), set(), set(), set(), set()
    for row in rows:
        credits = store.credits_of(row["exec_id"])
        for credit in credits:
            by_kind[credit["kind"]] += float(credit["energy_kwh"])
            avoided_kwh.append(float(credit["energy_kwh"]))
            avoided_g.append(float(credit["co2e_g"]))
        run = store.run(row["run_id"])
        if run is not None:
            regions.add(f"{run['region']} ({run['intensity_g_per_kwh']} gCO2e/kWh)")
            sources.add(str(run["intensity_source"]))
            hosts.add(str(run["host"]))
        methods.add(str(row["method"]))
        runs.add(str(row["run_id"]))
        fp.executions.append(
            {
                "exec_id": row["exec_id"],
                "run_id": row["run_id"],
                "task": row["task"],
                "step_ref": row["step_ref"],
                "energy_kwh": float(row["energy_kwh"]),
                "co2e_g": float(row["co2e_g"]),
                "cpu_s": float(row["cpu_s"]),
                "wall_s": float(row["wall_s"]),
                "method": row["method"],
                "avoided_kwh": math.fsum(float(c["energy_kwh"]) for c in credits),
            }
        )
    fp.energy_kwh = math.fsum(e["energy_kwh"] for e in fp.executions)
    fp.co2e_g = math.fsum(e["co2e_g"] for e in fp.executions)
    fp.cpu_s = math.fsum(e["cpu_s"] for e in fp.executions)
    fp.wall_s = math.fsum(e["wall_s"] for e in fp.executions)
    fp.avoided_kwh = math.fsum(avoided_kwh)
    fp.avoided_co2e_g = math.fsum(avoided_g)
    fp.avoided_by_kind = dict(sorted(by_kind.items()))
    fp.regions, fp.intensity_sources = sorted(regions), sorted(sources)
    fp.energy_methods, fp.hosts, fp.runs = sorted(methods), sorted(hosts), sorted(runs)
    return fp


def data_digests(store: Store, rows: list[Any]) -> dict[str, str]:
    """The data that went in: every dataset or pipeline input file consumed by a lineage execution."""
    out: dict[str, str] = {}
    for row in rows:
        for item in store.inputs_of(row["exec_id"]):
            if store.artifact_kind(item["digest"]) == "dataset" or str(item["source"] or "").startswith("file:"):
                out[f"{row['task']}.{item['name']}"] = item["digest"]
    return dict(sorted(out.items()))

"""The serving recommendation as Markdown: the choice, every alternative with its estimate, the assumptions."""

from __future__ import annotations

from typing import Any


def render(doc: dict[str, Any]) -> str:
    model = doc["model"]
    lines = [
        f"# Serving recommendation: {doc['chosen']}",
        "",
        f"Traffic: {doc['traffic']}. Latency objective: {doc['latency_objective_ms']:g} ms.",
        f"Model latency ({model['source']}): p50 {model['p50_ms_b1']:.3g} ms / p99 {model['p99_ms_b1']:.3g} ms at "
        f"batch 1, p50 {model['p50_ms_b1000']:.3g} ms at batch 1000; memory about {model['memory_mb']:.1f} MB.",
        f"Instance: {doc['instance']['name']} ({doc['instance']['vcpus']} vCPU, {doc['instance']['memory_gb']:g} GB).",
        "",
        "| mode | feasible | instance-hours / month | vs always-on | kWh / month | kgCO2e / month | why |",
        "|---|---|---|---|---|---|---|",
    ]
    for o in doc["options"]:
        mark = "**chosen**" if o["mode"] == doc["chosen"] else ("yes" if o["feasible"] else "no")
        lines.append(
            f"| {o['mode']} | {mark} | {o['instance_hours']:.1f} | "
            f"{o['instance_hours'] / doc['always_on_instance_hours']:.3f} | {o['config']['energy_kwh_month']:.3g} | "
            f"{o['config']['co2e_kg_month']:.3g} | {o['reason']} |"
        )
    lines += [
        "",
        f"Always-on baseline: one real-time instance, {doc['always_on_instance_hours']:g} instance-hours a month.",
        f"Grid: {doc['grid']['region']} {doc['grid']['g_per_kwh']:g} gCO2e/kWh ({doc['grid']['source']}).",
        f"Instance table and power: {doc['instance_source']}.",
        "",
        "Assumptions (estimates, not measurements):",
        *[f"- {a}" for a in doc["assumptions"]],
        "",
        f"Scored locally: {doc['scored_rows']} rows (batch transform in chunks).",
        "",
        "SageMaker requests (validated against botocore's service model): " + ", ".join(doc["requests"]),
    ]
    return "\n".join(lines) + "\n"

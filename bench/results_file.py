"""Write a benchmark's figures to bench/results/<bench>.json in the one shape every benchmark uses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def figure(name: str, value: float, unit: str, goal: float | None, better: str, baseline: str) -> dict[str, Any]:
    """One figure; `better` is "lower" or "higher", `baseline` names what it was compared with in the same run."""
    if better not in ("lower", "higher"):
        raise ValueError(f"better={better!r} must be 'lower' or 'higher'")
    return {"name": name, "value": value, "unit": unit, "goal": goal, "better": better, "baseline": baseline}


def write_results(bench: str, command: str, figures: list[dict[str, Any]]) -> Path:
    """Write and print the figures; return the file written."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{bench}.json"
    document = {"bench": bench, "command": command, "figures": figures}
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    for fig in figures:
        goal = "" if fig["goal"] is None else f"  (goal {fig['goal']}, {fig['better']} is better)"
        print(f"{fig['name']:32s} {fig['value']:>12.6g} {fig['unit']}{goal}  vs {fig['baseline']}")
    return path

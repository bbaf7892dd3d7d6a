"""Terminal output: live progress while a pipeline runs, and the tables `run`, `plan`, `runs` and `show` print."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

from greenpipe.runner import PlanItem, RunResult, StepResult

_MARK = {"ran": "ran", "cached": "cached", "skipped": "skipped", "failed": "FAILED"}


class ProgressDisplay:
    """One line per step: a live 'running' line on a terminal, then the step's outcome."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self._t0 = 0.0

    def step_started(self, name: str, index: int, total: int) -> None:
        self._t0 = time.perf_counter()
        if self.live:
            self.stream.write(f"\r[{index}/{total}] {name} ... running")
            self.stream.flush()

    def step_finished(self, result: StepResult, index: int, total: int) -> None:
        took = time.perf_counter() - self._t0
        clear = "\r\033[K" if self.live else ""
        detail = result.reason if result.status != "failed" else (result.error or "")
        self.stream.write(f"{clear}[{index}/{total}] {result.name}: {_MARK[result.status]} ({took:.2f} s) {detail}\n")
        self.stream.flush()


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], align: str | None = None) -> str:
    """A plain-text table; `align` is one of l/r per column."""
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    align = align or "l" + "r" * (len(headers) - 1)
    lines = []
    for n, row in enumerate(cells):
        parts = [c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(row, widths, align, strict=True)]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if value == 0:
            return "0"
        return f"{value:.4f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def summary(result: RunResult) -> str:
    """The end-of-run table: per step and in total, what ran, what it cost and what it avoided."""
    headers = ["step", "status", "wall s", "CPU s", "peak MB", "energy Wh", "gCO2e", "avoided gCO2e"]
    rows = [
        [s.name, s.status, s.wall_s, s.cpu_s, s.peak_mb, s.energy_wh, s.co2e_g, s.avoided_co2e_g] for s in result.steps
    ]
    t = result.totals()
    rows.append(
        [
            "total",
            f"{t['ran']} ran, {t['cached']} cached",
            t["wall_s"],
            t["cpu_s"],
            t["peak_mb"],
            t["energy_wh"],
            t["co2e_g"],
            t["avoided_co2e_g"],
        ]
    )
    head = f"run {result.run_id}  pipeline {result.pipeline}  {result.status}"
    lines = [head, table(headers, rows, "llrrrrrr")]
    if t["ran"] == 0 and t["failed"] == 0:
        lines.append("Nothing executed: every step was answered by the cache or skipped.")
    lines.append(f"grid: {result.region} {result.intensity_g_per_kwh:g} gCO2e/kWh — {result.intensity_source}")
    for s in result.steps:
        if s.status == "failed":
            lines.append(f"step {s.name} failed: {s.error}")
    return "\n".join(lines)


def plan_table(items: list[PlanItem]) -> str:
    lines = [table(["step", "action", "reason"], [[i.name, i.action, i.reason] for i in items], "lll")]
    for item in items:
        lines.extend(f"note: {item.name}: {note}" for note in item.untracked)
    return "\n".join(lines)

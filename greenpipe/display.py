"""Terminal output: live progress while a pipeline runs, and the text each command prints for a person (with
--json the command prints its document instead)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import time
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # annotations only: the entry points import this module and must stay light
    from greenpipe.results import PlanItem, RunResult, StepResult

LOG_LEVEL_ENV = "GREENPIPE_LOG_LEVEL"

_MARK = {"ran": "ran", "cached": "cached", "skipped": "skipped", "failed": "FAILED"}


class ProgressDisplay:
    """One line per step: a live 'running' line on a terminal (with the step's progress), then its outcome.

    Off a terminal (a log file, CI) a step's progress comes as lines, at most one every PROGRESS_EVERY_S
    seconds plus the last, so a 30-epoch run does not flood the log.
    """

    PROGRESS_EVERY_S = 5.0

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self._t0 = 0.0
        self._line = ""  # the live line: `[i/n] name ... running`
        self._status = "running"
        self._last_progress = -1e9

    def step_started(self, name: str, index: int, total: int) -> None:
        self._t0 = time.perf_counter()
        self._line = f"[{index}/{total}] {name} ..."
        self._status = "running"
        self._last_progress = -1e9
        self._redraw()

    def step_log(self, name: str, message: str) -> None:
        """A line the step logs: printed above the live line, which is drawn again under it."""
        self.stream.write(f"{self._clear()}[{name}] {message}\n")
        self._redraw()

    def step_progress(self, name: str, text: str, final: bool = False) -> None:
        """How far the running step is: on the live line, or as a (throttled) log line."""
        if self.live:
            self._status = text
            self._redraw()
            return
        now = time.perf_counter()
        if final or now - self._last_progress >= self.PROGRESS_EVERY_S:
            self._last_progress = now
            self.stream.write(f"[{name}] {text}\n")
            self.stream.flush()

    def step_finished(self, result: StepResult, index: int, total: int) -> None:
        took = time.perf_counter() - self._t0
        detail = result.reason if result.status != "failed" else (result.error or "")
        self.stream.write(
            f"{self._clear()}[{index}/{total}] {result.name}: {_MARK[result.status]} ({took:.2f} s) {detail}\n"
        )
        self.stream.flush()
        self._line = ""

    def _clear(self) -> str:
        return "\r\033[K" if self.live and self._line else ""

    def _redraw(self) -> None:
        if self.live and self._line:
            width = shutil.get_terminal_size((100, 20)).columns - 1  # a wrapped line cannot be redrawn with \r
            self.stream.write(f"\r\033[K{f'{self._line} {self._status}'[:width]}")
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
        if item.varies:
            lines.append(f"note: {item.name}: outputs vary between runs on the same inputs: {item.varies}")
    return "\n".join(lines)


def runs_text(doc: dict[str, Any], home: object) -> str:
    """`runs`: one line per run (greenpipe.run_document.run_list)."""
    if not doc["runs"]:
        return f"no runs in {home}"
    headers = ["run", "pipeline", "status", "started", "ran", "cached", "energy Wh", "gCO2e", "avoided gCO2e"]
    keys = ["run_id", "pipeline", "status", "started", "ran", "cached", "energy_wh", "co2e_g", "avoided_co2e_g"]
    return table(headers, [[d[k] for k in keys] for d in doc["runs"]], "lllrrrrrr")


def run_text(doc: dict[str, Any]) -> str:
    """`show`: a stored run's steps, avoided energy and lineage (greenpipe.run_document.run_document)."""
    lines = [f"run {doc['run_id']}  pipeline {doc['pipeline']}  {doc['status']}  started {doc['started']}"]
    lines.append(f"params {json.dumps(doc['params'])}")
    headers = ["step", "status", "wall s", "CPU s", "peak MB", "energy Wh", "gCO2e", "avoided gCO2e", "reason"]
    keys = ["name", "status", "wall_s", "cpu_s", "peak_mb", "energy_wh", "co2e_g", "avoided_co2e_g", "reason"]
    lines.append(table(headers, [[s[k] for k in keys] for s in doc["steps"]], "llrrrrrrl"))
    lines.extend(
        f"note: {s['name']}: outputs vary between runs on the same inputs: {s['varies']}"
        for s in doc["steps"]
        if s["varies"]
    )
    if doc["credits"]:
        lines.append("\nledger: avoided")
        lines.append(
            table(
                ["step", "kind", "Wh", "gCO2e", "traced to"],
                [[c["step"], c["kind"], c["energy_wh"], c["co2e_g"], c["traced_to"]] for c in doc["credits"]],
                "llrrl",
            )
        )
    lines.append("\nlineage: each output, its digest, and the outputs it was made from (digests in --json)")
    lines.extend(lineage_lines(doc["lineage"]))
    lines.append(f"\ngrid: {doc['region']} {doc['intensity_g_per_kwh']:g} gCO2e/kWh — {doc['intensity_source']}")
    return "\n".join(lines)


def regions_text(doc: dict[str, Any]) -> str:
    """`regions`: the intensity table, the current region marked (greenpipe.regions.regions_document)."""
    rows = doc["regions"]
    ranked = table(
        ["", "region", "name", "gCO2e/kWh", "last run gCO2e"],
        [["*" if d["current"] else "", d["region"], d["name"], d["g_per_kwh"], d["last_run_co2e_g"]] for d in rows],
        "lllrr",
    )
    return (
        f"{ranked}\n\n* current region. Last run: {doc['last_run'] or 'none'} "
        f"({doc['last_run_energy_wh']:.4f} Wh measured).\n"
        f"Source: {rows[0]['source']} ({rows[0]['year']}; grid data {rows[0]['data_years']})."
    )


def verify_text(doc: dict[str, Any]) -> str:
    """`verify`: what was checked, and what happens to each damaged object (greenpipe.verify)."""
    lines = [f"verified {doc['checked']} stored objects: {len(doc['corrupt'])} corrupt, {len(doc['missing'])} missing"]
    lines.extend(f"  corrupt {d}: moved to tmp/corrupt/; the next run recomputes it" for d in doc["corrupt"])
    lines.extend(f"  missing {d}: the next run recomputes it" for d in doc["missing"])
    return "\n".join(lines)


def gc_text(doc: dict[str, Any]) -> str:
    """`gc`: what was (or would be) freed (greenpipe.gc)."""
    verb = "would free" if doc["dry_run"] else "freed"
    return (
        f"gc {verb} {doc['bytes_freed']} bytes: {doc['artifacts_deleted']} artifacts, "
        f"{doc['cache_entries_dropped']} cache entries, {doc['tmp_dirs_removed']} temporary folders"
    )


def lineage_lines(lineage: list[dict[str, Any]]) -> list[str]:
    """`show`'s lineage: each output, what it was made from by name (step.output), and a short digest."""
    names: dict[str, str] = {}
    for item in lineage:
        names.setdefault(item["artifact"], item["output"])
    width = max((len(item["output"]) for item in lineage), default=0)
    lines = []
    for item in lineage:
        sources = ", ".join(
            f"{i['name']}={names.get(i['digest']) or short_digest(i['digest'])}" for i in item["inputs"]
        )
        lines.append(f"  {item['output']:<{width}}  {short_digest(item['artifact'])}  <- {sources or '(no inputs)'}")
    return lines


def short_digest(digest: str) -> str:
    """`blake3:180a5fcb7446d1...` -> `180a5fcb7446` (the algorithm is the same for every artifact of a store)."""
    return digest.rpartition(":")[2][:12]


def install_notices(stream: TextIO | None = None) -> None:
    """Show a UserWarning as one line in greenpipe's voice (`greenpipe: note: ...`), not Python's source dump."""
    original = warnings.showwarning

    def notice(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        if issubclass(category, UserWarning):
            print(f"greenpipe: note: {message}", file=stream or sys.stderr)
        else:
            original(message, category, filename, lineno, file, line)

    warnings.showwarning = notice


def quiet_third_party_logs() -> None:
    """Third-party loggers at WARNING (GREENPIPE_LOG_LEVEL=INFO or DEBUG asks for more), whatever the host set.

    kfp's executor sets the root logger to INFO before it calls the step, so importing great_expectations
    printed hundreds of INFO lines into every pod's log.
    """
    level = logging.getLevelName(os.environ.get(LOG_LEVEL_ENV, "WARNING").upper())
    if not isinstance(level, int):
        level = logging.WARNING
    logging.getLogger().setLevel(level)
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger) and not name.startswith("greenpipe") and 0 < logger.level < level:
            logger.setLevel(level)

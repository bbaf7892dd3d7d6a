"""The sustainability report: one self-contained HTML file (plots inline) for a run or for every run since a date.

It shows energy and CO2e per step, what was spent against what was avoided and by what (cache, dedup, early
stop, pruning, small sample, skipped retrain), the grid intensity used with its source, and every Report and
Metrics artifact the steps produced (learning curves, tuning history, drift tables, model cards), embedded as is.
"""

from __future__ import annotations

import base64
import html
import io
import json
import time
from pathlib import Path
from typing import Any

from greenpipe.store import Store

CREDIT_LABELS = {
    "cache": "cache hits",
    "dedup": "feature dedup",
    "early_stop": "early stops",
    "pruning": "pruned trials",
    "small_sample": "small samples",
    "gated_skip": "steps skipped by a gate (retrains)",
}


def write_report(store: Store, run_ids: list[str], out: str | Path, title: str) -> Path:
    """Render the runs into one HTML file at `out`; return its path."""
    runs = [_run_data(store, run_id) for run_id in run_ids]
    body = [f"<h1>{html.escape(title)}</h1>", _overview(runs), _plots(runs)]
    for run in runs:
        body.append(_run_section(store, run))
    page = _PAGE.format(title=html.escape(title), body="\n".join(body), generated=time.strftime("%Y-%m-%d %H:%M:%S"))
    out_path = Path(out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(out_path.suffix + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out_path)
    return out_path


def runs_since(store: Store, since_s: float) -> list[str]:
    cutoff = time.time() - since_s
    return [r["run_id"] for r in store.query("SELECT run_id FROM runs WHERE started >= ? ORDER BY started", (cutoff,))]


def _run_data(store: Store, run_id: str) -> dict[str, Any]:
    run = store.run(run_id)
    if run is None:
        from greenpipe.errors import RunNotFound

        raise RunNotFound(f"run {run_id!r} is not in {store.home}: list runs with `greenpipe runs`")
    executions = store.executions(run_id)
    credits = [(e["task"], c) for e in executions for c in store.credits_of(e["exec_id"])]
    return {"run": run, "executions": executions, "credits": credits}


def _overview(runs: list[dict[str, Any]]) -> str:
    spent_kwh = sum(e["energy_kwh"] for r in runs for e in r["executions"])
    spent_g = sum(e["co2e_g"] for r in runs for e in r["executions"])
    avoided_kwh = sum(c["energy_kwh"] for r in runs for _, c in r["credits"])
    avoided_g = sum(c["co2e_g"] for r in runs for _, c in r["credits"])
    ran = sum(1 for r in runs for e in r["executions"] if e["status"] == "ran")
    cached = sum(1 for r in runs for e in r["executions"] if e["status"] == "cached")
    grids = sorted({(r["run"]["region"], r["run"]["intensity_g_per_kwh"], r["run"]["intensity_source"]) for r in runs})
    grid_rows = "".join(
        f"<li><b>{html.escape(str(g[0]))}</b>: {g[1]:g} gCO2e/kWh — {html.escape(str(g[2]))}</li>" for g in grids
    )
    methods = sorted({str(e["method"]) for r in runs for e in r["executions"] if e["status"] == "ran"})
    return (
        "<section class='cards'>"
        f"<div class='card'><div class='big'>{spent_kwh * 1000:.4g} Wh</div>spent, {spent_g:.4g} gCO2e</div>"
        f"<div class='card'><div class='big'>{avoided_kwh * 1000:.4g} Wh</div>avoided, {avoided_g:.4g} gCO2e</div>"
        f"<div class='card'><div class='big'>{ran} / {cached}</div>steps ran / answered by cache</div>"
        f"<div class='card'><div class='big'>{len(runs)}</div>runs</div></section>"
        f"<h2>Grid intensity used</h2><ul>{grid_rows}</ul>"
        f"<p class='note'>Energy method: {html.escape(', '.join(methods) or 'none ran')}. The formula method is "
        "Green Algorithms' energy = CPU time x W per core + memory x 0.3725 W/GB, x PUE, on measured CPU time and "
        "peak memory. Avoided energy is always traced to a measured execution or measurement (see the ledger).</p>"
    )


def _plots(runs: list[dict[str, Any]]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    per_step: dict[str, list[float]] = {}
    for r in runs:
        for e in r["executions"]:
            wh, g = per_step.setdefault(e["task"], [0.0, 0.0])[:2]
            per_step[e["task"]] = [wh + e["energy_kwh"] * 1000, g + e["co2e_g"]]
    by_kind: dict[str, float] = {}
    for r in runs:
        for _, c in r["credits"]:
            by_kind[c["kind"]] = by_kind.get(c["kind"], 0.0) + c["co2e_g"]
    spent_g = sum(v[1] for v in per_step.values())
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    names = list(per_step)
    axes[0].barh(names, [per_step[n][1] for n in names], color="#3b7d4f")
    axes[0].set_xlabel("gCO2e spent")
    axes[0].set_title("CO2e per step (energy in Wh on the labels)")
    for i, n in enumerate(names):
        axes[0].text(per_step[n][1], i, f" {per_step[n][0]:.3g} Wh", va="center", fontsize=8)
    axes[0].invert_yaxis()
    labels = ["spent"] + [CREDIT_LABELS.get(k, k) for k in by_kind]
    values = [spent_g] + list(by_kind.values())
    colors = ["#b5523b"] + ["#5f9e6e"] * len(by_kind)
    axes[1].bar(labels, values, color=colors)
    axes[1].set_ylabel("gCO2e")
    axes[1].set_title("Spent vs avoided, by what avoided it")
    axes[1].tick_params(axis="x", rotation=20)
    fig.tight_layout()
    return f"<h2>Energy and CO2e</h2>{_png(fig)}"


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode()
    return f"<img alt='plot' src='data:image/png;base64,{data}'>"


def _run_section(store: Store, data: dict[str, Any]) -> str:
    run = data["run"]
    rows = "".join(
        f"<tr><td>{html.escape(e['task'])}</td><td class='{e['status']}'>{e['status']}</td>"
        f"<td>{e['wall_s']:.3f}</td><td>{e['cpu_s']:.3f}</td><td>{e['peak_mb']:.0f}</td>"
        f"<td>{e['energy_kwh'] * 1000:.4g}</td><td>{e['co2e_g']:.4g}</td><td>{e['avoided_co2e_g']:.4g}</td>"
        f"<td>{html.escape(e['reason'] or '')}</td></tr>"
        for e in data["executions"]
    )
    credit_rows = "".join(
        f"<tr><td>{html.escape(task)}</td><td>{CREDIT_LABELS.get(c['kind'], c['kind'])}</td>"
        f"<td>{c['energy_kwh'] * 1000:.4g}</td><td>{c['co2e_g']:.4g}</td><td>{html.escape(c['traced_to'])}</td>"
        f"<td>{html.escape(c['note'] or '')}</td></tr>"
        for task, c in data["credits"]
    )
    parts = [
        f"<h2>Run {html.escape(run['run_id'])} — {html.escape(run['pipeline'])} ({run['status']})</h2>",
        f"<p class='note'>params {html.escape(run['params'])}</p>",
        "<table><tr><th>step</th><th>status</th><th>wall s</th><th>CPU s</th><th>peak MB</th><th>energy Wh</th>"
        f"<th>gCO2e</th><th>avoided gCO2e</th><th>reason</th></tr>{rows}</table>",
    ]
    if credit_rows:
        parts.append(
            "<h3>Ledger: avoided</h3><table><tr><th>step</th><th>by</th><th>Wh</th><th>gCO2e</th>"
            f"<th>traced to</th><th>note</th></tr>{credit_rows}</table>"
        )
    parts.extend(_artifacts(store, data["executions"]))
    return "<section class='run'>" + "\n".join(parts) + "</section>"


def _artifacts(store: Store, executions: list[Any]) -> list[str]:
    """Embed what the steps produced for people: Report artifacts (HTML, Markdown, images) and Metrics."""
    blocks = []
    for e in executions:
        if e["status"] not in ("ran", "cached"):
            continue
        kinds = {
            r["digest"]: r["kind"]
            for r in store.query(
                "SELECT a.digest, a.kind FROM artifacts a JOIN outputs o ON o.digest=a.digest WHERE o.exec_id=?",
                (e["exec_id"],),
            )
        }
        for name, digest in sorted(store.outputs_of(e["exec_id"]).items()):
            path = store.object_path(digest)
            kind = kinds.get(digest)
            if not path.exists():
                continue
            if kind == "metrics":
                values = json.loads(path.read_text())
                cells = "".join(
                    f"<tr><td>{html.escape(k)}</td><td>{v:.6g}</td></tr>"
                    for k, v in values.items()
                    if isinstance(v, (int, float))
                )
                blocks.append(f"<h3>{html.escape(e['task'])}.{html.escape(name)} (metrics)</h3><table>{cells}</table>")
            elif kind == "report":
                blocks.append(f"<h3>{html.escape(e['task'])}.{html.escape(name)}</h3>{_embed(path)}")
            elif kind == "dataset" and name == "history" and path.is_file():
                plot = _trial_history(path)
                if plot:
                    blocks.append(f"<h3>{html.escape(e['task'])}.{name} (tuning history)</h3>{plot}")
    return blocks


def _trial_history(path: Path) -> str:
    """A trial table (columns number, state, value; e.g. bayes_tune's history) as value per trial and best so far."""
    import pandas as pd

    trials = pd.read_parquet(path)
    if not {"number", "state", "value"} <= set(trials.columns) or trials.empty:
        return ""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.2))
    for state, colour in (("COMPLETE", "#3b7d4f"), ("PRUNED", "#b5523b")):
        part = trials[trials["state"] == state]
        ax.scatter(part["number"], part["value"], s=18, color=colour, label=state.lower())
    done = trials[trials["state"] == "COMPLETE"].sort_values("number")
    if not done.empty:
        ax.step(done["number"], done["value"].cummax(), where="post", color="#1d2a22", label="running max")
    ax.set_xlabel("trial")
    ax.set_ylabel("objective")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def _embed(path: Path) -> str:
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for wanted in (".html", ".md"):
        for file in files:
            if file.suffix == wanted or (file == path and _looks_html(file)):
                text = file.read_text(encoding="utf-8", errors="replace")
                if file.suffix == ".md" and not _looks_html(file):
                    return f"<pre class='md'>{html.escape(text)}</pre>"
                return f"<iframe class='embed' srcdoc=\"{html.escape(text, quote=True)}\"></iframe>"
    images = [f for f in files if f.suffix in (".png", ".svg")]
    return (
        "".join(
            f"<img alt='{html.escape(f.name)}' src='data:image/{'svg+xml' if f.suffix == '.svg' else 'png'};base64,"
            f"{base64.b64encode(f.read_bytes()).decode()}'>"
            for f in images
        )
        or "<p class='note'>(no viewable content)</p>"
    )


def _looks_html(file: Path) -> bool:
    with open(file, "rb") as handle:
        head = handle.read(512).lstrip().lower()
    return head.startswith(b"<!doctype html") or head.startswith(b"<html")


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; color: #1d2a22; }}
h1 {{ color: #2e6b3f; }} h2 {{ border-bottom: 2px solid #cfe3d4; padding-bottom: .2rem; margin-top: 2rem; }}
table {{ border-collapse: collapse; margin: .5rem 0; font-size: .9rem; }}
td, th {{ border: 1px solid #d5ddd7; padding: .25rem .5rem; text-align: left; }}
th {{ background: #eef5f0; }}
.cards {{ display: flex; gap: 1rem; flex-wrap: wrap; }}
.card {{ background: #eef5f0; border-radius: 8px; padding: .8rem 1.2rem; min-width: 12rem; }}
.big {{ font-size: 1.6rem; font-weight: 600; color: #2e6b3f; }}
.note {{ color: #5a6b60; font-size: .85rem; }}
.ran {{ color: #b5523b; }} .cached {{ color: #2e6b3f; }} .skipped {{ color: #777; }} .failed {{ color: #c00; }}
img {{ max-width: 100%; }}
iframe.embed {{ width: 100%; height: 520px; border: 1px solid #d5ddd7; }}
</style></head><body>
{body}
<p class="note">Generated by greenpipe at {generated}.</p>
</body></html>
"""

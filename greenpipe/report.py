"""The sustainability report: one self-contained HTML page, read top to bottom.

First a summary (spent, avoided and by what, where the energy went and what would change it), then each run
with its steps and its ledger, then what the steps found: every Report, Metrics and trial table shown inline as
a section of the page (no iframes), each artifact once however many runs reused it. Plots are inline PNGs with
a title and labelled axes; numbers share one format with units (report_format); step content is sanitised
(report_embed); components provide their own sections through report_sections.register_section.
"""

from __future__ import annotations

import html
import json
import time
from pathlib import Path
from typing import Any

from greenpipe.artifacts import write_bytes_atomic
from greenpipe.ledger import credit_label
from greenpipe.report_format import count, digest, number, quantity
from greenpipe.report_sections import ArtifactView, figure, import_step_module, pyplot, render_artifact
from greenpipe.store import Store


def write_report(store: Store, run_ids: list[str], out: str | Path, title: str) -> Path:
    """Render the runs into one HTML file at `out`; return its path."""
    runs = [_run_data(store, run_id) for run_id in run_ids]
    findings, shown_in = _findings(store, runs)
    body = [
        f"<h1>{html.escape(title)}</h1>",
        _summary(runs),
        "<h2>Runs</h2>",
        *(_run_section(run, shown_in) for run in runs),
        "<h2>What the steps found</h2>",
        *(findings or ["<p class='note'>No step in these runs produced a report, metrics or a trial table.</p>"]),
    ]
    page = _PAGE.format(title=html.escape(title), body="\n".join(body), generated=time.strftime("%Y-%m-%d %H:%M:%S"))
    return write_bytes_atomic(out, page.encode("utf-8"))


def runs_since(store: Store, since_s: float) -> list[str]:
    cutoff = time.time() - since_s
    return store.run_ids_since(cutoff)


def _run_data(store: Store, run_id: str) -> dict[str, Any]:
    run = store.run(run_id)
    if run is None:
        from greenpipe.errors import RunNotFound

        raise RunNotFound(f"run {run_id!r} is not in {store.home}: list runs with `greenpipe runs`")
    executions = store.executions(run_id)
    _import_step_modules(executions)
    credits = [(e["task"], c) for e in executions for c in store.credits_of(e["exec_id"])]
    outputs = {e["exec_id"]: store.outputs_of(e["exec_id"]) for e in executions}
    return {"run": run, "executions": executions, "credits": credits, "outputs": outputs}


def _import_step_modules(executions: list[Any]) -> None:
    """Import the modules of the steps that ran, so their components register credit kinds and sections."""
    for step_ref in sorted({e["step_ref"] for e in executions}):
        import_step_module(step_ref)


# -- summary ------------------------------------------------------------------------------------------------------


def _summary(runs: list[dict[str, Any]]) -> str:
    executions = [e for r in runs for e in r["executions"]]
    spent_wh = sum(e["energy_kwh"] for e in executions) * 1000
    spent_g = sum(e["co2e_g"] for e in executions)
    avoided_wh = sum(c["energy_kwh"] for r in runs for _, c in r["credits"]) * 1000
    avoided_g = sum(c["co2e_g"] for r in runs for _, c in r["credits"])
    ran = sum(1 for e in executions if e["status"] == "ran")
    cached = sum(1 for e in executions if e["status"] == "cached")
    cards = (
        "<section class='cards' id='summary'>"
        f"<div class='card'><div class='big'>{quantity(spent_g, 'gCO2e')}</div>spent ({quantity(spent_wh, 'Wh')})</div>"
        f"<div class='card'><div class='big'>{quantity(avoided_g, 'gCO2e')}</div>"
        f"avoided ({quantity(avoided_wh, 'Wh')})</div>"
        f"<div class='card'><div class='big'>{ran} ran · {cached} cached</div>"
        f"{count(len(executions), 'step execution')}</div>"
        f"<div class='card'><div class='big'>{count(len(runs), 'run')}</div>"
        f"{html.escape(', '.join(sorted({r['run']['pipeline'] for r in runs})))}</div></section>"
    )
    return (
        "<h2>Summary</h2>"
        + cards
        + _by_kind(runs, avoided_g)
        + _what_would_change_it(runs, executions, spent_wh, spent_g)
        + _energy_plots(runs)
    )


def _by_kind(runs: list[dict[str, Any]], avoided_g: float) -> str:
    by_kind: dict[str, list[float]] = {}
    for r in runs:
        for _, c in r["credits"]:
            entry = by_kind.setdefault(c["kind"], [0.0, 0.0, 0.0])
            entry[0] += c["energy_kwh"] * 1000
            entry[1] += c["co2e_g"]
            entry[2] += 1
    if not by_kind:
        return "<h3>Avoided, by what avoided it</h3><p>Nothing was avoided in these runs.</p>"
    rows = "".join(
        f"<tr><td>{html.escape(credit_label(kind))}</td><td class='num'>{int(n)}</td>"
        f"<td class='num'>{quantity(wh, 'Wh')}</td><td class='num'>{quantity(g, 'gCO2e')}</td>"
        f"<td class='num'>{number(100 * g / avoided_g) if avoided_g else '0'} %</td></tr>"
        for kind, (wh, g, n) in sorted(by_kind.items(), key=lambda kv: -kv[1][1])
    )
    return (
        "<h3>Avoided, by what avoided it</h3><table><thead><tr><th>by</th><th>entries</th><th>energy</th>"
        f"<th>CO2e</th><th>share</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _what_would_change_it(runs: list[dict[str, Any]], executions: list[Any], spent_wh: float, spent_g: float) -> str:
    from greenpipe.ledger import intensity_table

    items = []
    per_step: dict[str, float] = {}
    for e in executions:
        per_step[e["task"]] = per_step.get(e["task"], 0.0) + e["co2e_g"]
    top = sorted(per_step.items(), key=lambda kv: -kv[1])[:3]
    if spent_g > 0 and top:
        shares = ", ".join(f"<b>{html.escape(t)}</b> {number(100 * g / spent_g)} %" for t, g in top if g > 0)
        items.append(f"Most of what was spent went to {shares}: making these steps cheaper or cached moves the total.")
    regions = intensity_table()["regions"]
    best_key, best = min(regions.items(), key=lambda kv: kv[1]["g_per_kwh"])
    grids = sorted({(r["run"]["region"], r["run"]["intensity_g_per_kwh"]) for r in runs}, key=str)
    for region, intensity in grids:
        if intensity and intensity > best["g_per_kwh"]:
            wh = sum(e["energy_kwh"] for r in runs if r["run"]["region"] == region for e in r["executions"]) * 1000
            items.append(
                f"The runs in {html.escape(str(region))} used {number(intensity)} gCO2e/kWh; the same "
                f"{quantity(wh, 'Wh')} in {html.escape(best_key)} ({html.escape(best['name'])}, "
                f"{number(best['g_per_kwh'])} gCO2e/kWh) would have emitted "
                f"{quantity(wh / 1000 * best['g_per_kwh'], 'gCO2e')} instead of "
                f"{quantity(wh / 1000 * intensity, 'gCO2e')} (<code>--region {html.escape(best_key)}</code>)."
            )
    failed = sum(1 for e in executions if e["status"] == "failed")
    if failed:
        items.append(f"{count(failed, 'step')} failed: what a failed step spent bought nothing.")
    sources = sorted({(str(r["run"]["region"]), str(r["run"]["intensity_source"])) for r in runs})
    methods = sorted({str(e["method"]) for e in executions if e["status"] == "ran"})
    grid = "; ".join(f"{html.escape(region)}: {html.escape(source)}" for region, source in sources)
    return (
        "<h3>What would change it</h3><ul>"
        + "".join(f"<li>{item}</li>" for item in items)
        + "</ul>"
        + f"<p class='note'>Grid intensity: {grid}. Energy method: {html.escape(', '.join(methods) or 'none ran')}. "
        "The formula method is Green Algorithms' energy = CPU time x W per core + memory x 0.3725 W/GB, x PUE, "
        "on measured CPU time and peak memory. Avoided energy is always traced to a measured execution.</p>"
    )


def _energy_plots(runs: list[dict[str, Any]]) -> str:
    plt = pyplot()
    per_step: dict[str, float] = {}
    for r in runs:
        for e in r["executions"]:
            per_step[e["task"]] = per_step.get(e["task"], 0.0) + e["co2e_g"] * 1000
    by_kind: dict[str, float] = {}
    for r in runs:
        for _, c in r["credits"]:
            by_kind[c["kind"]] = by_kind.get(c["kind"], 0.0) + c["co2e_g"] * 1000
    fig, axes = plt.subplots(1, 2, figsize=(12, max(3.2, 0.32 * len(per_step) + 1.2)))
    names = list(per_step)
    axes[0].barh(names, [per_step[n] for n in names], color="#3b7d4f")
    axes[0].set_title("CO2e spent per step (all runs)")
    axes[0].set_xlabel("mgCO2e")
    axes[0].set_ylabel("step")
    axes[0].invert_yaxis()
    labels = ["spent"] + [credit_label(k) for k in by_kind]
    values = [sum(per_step.values())] + list(by_kind.values())
    axes[1].barh(labels, values, color=["#b5523b"] + ["#5f9e6e"] * len(by_kind))
    axes[1].set_title("Spent vs avoided, by what avoided it")
    axes[1].set_xlabel("mgCO2e")
    axes[1].set_ylabel("ledger entry")
    axes[1].invert_yaxis()
    fig.tight_layout()
    return figure(fig)


# -- runs -----------------------------------------------------------------------------------------------------------


def _run_section(data: dict[str, Any], shown_in: dict[str, str]) -> str:
    run = data["run"]
    rows = []
    for e in data["executions"]:
        outputs = data["outputs"].get(e["exec_id"], {})
        links = ", ".join(
            f"<a href='#{_anchor(d)}'>{html.escape(name)}</a>" if d in shown_in else html.escape(name)
            for name, d in sorted(outputs.items())
        )
        rows.append(
            f"<tr><td class='name'>{html.escape(e['task'])}</td>"
            f"<td class='name {html.escape(e['status'])}'>{html.escape(e['status'])}</td>"
            + _num(e["wall_s"], "s")
            + _num(e["cpu_s"], "s")
            + _num(e["peak_mb"], "MB")
            + _num(e["energy_kwh"] * 1000, "Wh")
            + _num(e["co2e_g"], "gCO2e")
            + _num(e["avoided_co2e_g"], "gCO2e")
            + f"<td class='text'>{html.escape(e['reason'] or '')}</td><td>{links or '–'}</td></tr>"
        )
    credit_rows = "".join(
        f"<tr><td class='name'>{html.escape(task)}</td><td>{html.escape(credit_label(c['kind']))}</td>"
        + _num(c["energy_kwh"] * 1000, "Wh")
        + _num(c["co2e_g"], "gCO2e")
        + f"<td class='text'>{html.escape(c['traced_to'])}</td>"
        + f"<td class='text'>{html.escape(c['note'] or '')}</td></tr>"
        for task, c in data["credits"]
    )
    params = json.loads(run["params"] or "{}")
    param_text = ", ".join(f"{k}={v}" for k, v in sorted(params.items())) or "defaults"
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run["started"]))
    parts = [
        f"<section class='run' id='run-{html.escape(run['run_id'])}'>",
        f"<h3>Run {html.escape(run['run_id'])}: {html.escape(run['pipeline'])}, {html.escape(run['status'])}</h3>",
        f"<p class='note'>started {started}; params {html.escape(param_text)}; grid {html.escape(str(run['region']))}"
        f" at {number(run['intensity_g_per_kwh'])} gCO2e/kWh</p>",
        "<table class='steps'><thead><tr><th>step</th><th>status</th><th>wall</th><th>CPU</th><th>peak memory</th>"
        "<th>energy</th><th>CO2e</th><th>avoided</th><th>reason</th><th>outputs</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>",
    ]
    if credit_rows:
        parts.append(
            "<h4>Ledger: avoided</h4><table><thead><tr><th>step</th><th>by</th><th>energy</th><th>CO2e</th>"
            f"<th>traced to</th><th>note</th></tr></thead><tbody>{credit_rows}</tbody></table>"
        )
    parts.append("</section>")
    return "\n".join(parts)


# -- findings -------------------------------------------------------------------------------------------------------


def _findings(store: Store, runs: list[dict[str, Any]]) -> tuple[list[str], dict[str, str]]:
    """One section per distinct artifact (by digest), listing every run and step that produced or reused it."""
    kinds = store.artifact_kinds()
    seen: dict[str, dict[str, Any]] = {}
    for r in runs:
        for e in r["executions"]:
            if e["status"] not in ("ran", "cached"):
                continue
            for name, d in sorted(r["outputs"].get(e["exec_id"], {}).items()):
                entry = seen.setdefault(d, {"execution": e, "name": name, "uses": []})
                entry["uses"].append(f"{r['run']['run_id']} ({e['status']})")
    blocks: list[str] = []
    shown_in: dict[str, str] = {}
    for d, entry in seen.items():
        e, name = entry["execution"], entry["name"]
        path = store.object_path(d)
        if not path.exists():
            continue
        view = ArtifactView(e["task"], name, kinds.get(d, "artifact"), path, d, e["step_ref"])
        section = render_artifact(view)
        if section is None:
            continue
        shown_in[d] = _anchor(d)
        uses = ", ".join(html.escape(u) for u in entry["uses"])
        blocks.append(
            f"<section class='finding' id='{_anchor(d)}'><h3>{html.escape(section.title)}</h3>"
            f"<p class='note'>artifact {digest(d)}; in {count(len(entry['uses']), 'run')}: {uses}</p>"
            f"{section.body}</section>"
        )
    return blocks, shown_in


def _num(value: float, unit: str) -> str:
    return f"<td class='num'>{quantity(value, unit)}</td>"


def _anchor(d: str) -> str:
    return "artifact-" + "".join(ch for ch in d.partition(":")[2][:16] if ch.isalnum())


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; padding: 0 1rem; color: #1d2a22; }}
h1 {{ color: #2e6b3f; }} h2 {{ border-bottom: 2px solid #cfe3d4; padding-bottom: .2rem; margin-top: 2.5rem; }}
h4, h5, h6 {{ margin: 1rem 0 .4rem; }}
table {{ border-collapse: collapse; margin: .5rem 0; font-size: .85rem; max-width: 100%; }}
td, th {{ border: 1px solid #d5ddd7; padding: .25rem .5rem; text-align: left; vertical-align: top;
  overflow-wrap: break-word; }}
td.text {{ overflow-wrap: anywhere; }} td.name {{ white-space: nowrap; }}
@media (max-width: 1100px) {{ td.num, td.name {{ white-space: normal; overflow-wrap: anywhere; }}
  table {{ font-size: .8rem; }} td, th {{ padding: .2rem .3rem; }} }}
th {{ background: #eef5f0; }} td.num {{ text-align: right; white-space: nowrap; }}
.cards {{ display: flex; gap: 1rem; flex-wrap: wrap; }}
.card {{ background: #eef5f0; border-radius: 8px; padding: .8rem 1.2rem; min-width: 12rem; }}
.big {{ font-size: 1.5rem; font-weight: 600; color: #2e6b3f; }}
.note {{ color: #5a6b60; font-size: .85rem; }}
.ran {{ color: #b5523b; }} .cached {{ color: #2e6b3f; }} .skipped {{ color: #777; }} .failed {{ color: #c00; }}
section.run, section.finding {{ border-left: 3px solid #cfe3d4; padding-left: 1rem; margin: 1.5rem 0; }}
figure {{ margin: .8rem 0; max-width: 100%; }} figcaption {{ color: #5a6b60; font-size: .8rem; }}
img {{ max-width: 100%; height: auto; }}
code.digest {{ cursor: help; background: #eef5f0; padding: 0 .2rem; }}
pre {{ white-space: pre-wrap; overflow-wrap: anywhere; }}
.step-content {{ max-width: 100%; }} .step-content td, .step-content th {{ overflow-wrap: anywhere; }}
.step-drift {{ background: #fde2e2; }} .step-warning {{ color: #a00; }}
</style></head><body>
{body}
<p class="note">Generated by greenpipe at {generated}.</p>
</body></html>
"""

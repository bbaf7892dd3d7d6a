"""The small_sample report: learning curves as an inline PNG, and what was spent vs what a full comparison costs."""

from __future__ import annotations

import base64
import html
import io

import numpy as np

from greenpipe.components.small_sample.search import SearchResult


def curves_png(result: SearchResult) -> bytes:
    """Measured points, fitted curves and full-data predictions (with one-sd bars) for each candidate run."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.2), dpi=100)
    ax = fig.subplots()
    xs = np.geomspace(
        min(p.fraction for c in result.candidates for p in c.points)
        if any(c.points for c in result.candidates)
        else 0.01,
        1.0,
        100,
    )
    for i, cand in enumerate(c for c in result.candidates if c.points):
        color = f"C{i}"
        ax.plot(
            [p.fraction for p in cand.points],
            [p.value for p in cand.points],
            "o",
            color=color,
            label=f"{cand.name} ({cand.decision})",
        )
        if cand.fit is not None:
            ax.plot(xs, cand.fit.at(xs), "-", color=color, alpha=0.6)
            yerr = cand.fit.uncertainty if np.isfinite(cand.fit.uncertainty) else 0.0
            ax.errorbar([1.0], [cand.fit.predicted], yerr=[yerr], fmt="s", color=color, capsize=4)
    ax.axhline(result.threshold, color="black", linestyle="--", linewidth=1, label=f"threshold {result.threshold}")
    ax.axvline(
        result.fraction, color="grey", linestyle=":", linewidth=1, label=f"recommended fraction {result.fraction:.3g}"
    )
    ax.set_xscale("log")
    ax.set_xlabel("fraction of the training rows")
    ax.set_ylabel(result.metric + " on the holdout")
    ax.legend(fontsize=8, loc="lower right")
    fig.subplots_adjust(left=0.11, right=0.98, bottom=0.12, top=0.97)  # tight_layout costs ~0.1 CPU s per report
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None or not np.isfinite(value) else f"{value:.{digits}g}"


def render_html(result: SearchResult, mode_reason: str, title: str = "small_sample") -> str:
    """The report: results only (curves, predictions, decisions); what the search cost is in the run's ledger."""
    figure = ""
    if not result.full_data:
        png = base64.b64encode(curves_png(result)).decode("ascii")
        figure = f'<img alt="learning curves" src="data:image/png;base64,{png}">'
    rows = []
    for cand in result.candidates:
        fit = cand.fit
        rows.append(
            "<tr>"
            + "".join(
                f"<td>{html.escape(str(v))}</td>"
                for v in (
                    cand.name,
                    ", ".join(f"{p.fraction:.3g} ({p.rows})" for p in cand.points) or "-",
                    ", ".join(f"{p.value:.4f}" for p in cand.points) or "-",
                    _fmt(fit.predicted if fit else None),
                    _fmt(fit.uncertainty if fit else None, 2),
                    fit.method if fit else "-",
                    cand.decision,
                    cand.reason,
                )
            )
            + "</tr>"
        )
    chosen = result.chosen
    verdict = "meets the threshold" if result.met_threshold else "does NOT meet the threshold (best available)"
    warning = f'<p class="warning"><b>Warning:</b> {html.escape(result.warning)}</p>' if result.warning else ""
    basis = "measured on all the training rows" if result.full_data else "predicted full-data"
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:72em;margin:1em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.25em .5em;text-align:left}}.warning{{color:#a00}}</style></head><body>
<h1>small_sample: {html.escape(chosen.name)} {verdict}</h1>
<p>Metric <b>{html.escape(result.metric)}</b> on a fixed holdout, threshold {result.threshold}, tolerance
{result.tolerance}. Chosen: <b>{html.escape(chosen.name)}</b>, {basis} {result.metric}
{chosen.fit.predicted if chosen.fit else float("nan"):.4f} &plusmn; {
        _fmt(chosen.fit.uncertainty if chosen.fit else None, 2)
    }; recommended training fraction <b>{result.fraction:.3g}</b> of {result.pool_rows} training rows.</p>
<p>How: {html.escape(mode_reason)}.</p>
{warning}
{figure}
<h2>Candidates</h2>
<table><tr><th>candidate</th><th>fractions trained (rows)</th><th>measured {html.escape(result.metric)}</th>
<th>full-data metric</th><th>&plusmn;</th><th>curve</th><th>decision</th><th>why</th></tr>
{"".join(rows)}</table>
<p>What the search spent, and the energy it avoided (predicted from each measured candidate's per-row cost),
are in the run's ledger: <code>greenpipe show RUN</code> or <code>greenpipe report</code>.</p>
</body></html>
"""

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


def render_html(
    result: SearchResult, avoided_kwh: float, search_cpu_s: float, search_kwh: float, title: str = "small_sample"
) -> str:
    """The report; `search_*` is what the whole search measured (fits plus sampling, curve fits, imports)."""
    png = base64.b64encode(curves_png(result)).decode("ascii")
    rows = []
    for cand in result.candidates:
        full = cand.predicted_full(result.pool_rows)
        fit = cand.fit
        rows.append(
            "<tr>"
            + "".join(
                f"<td>{html.escape(str(v))}</td>"
                for v in (
                    cand.name,
                    ", ".join(f"{p.fraction:.3g}" for p in cand.points) or "-",
                    _fmt(fit.predicted if fit else None),
                    _fmt(fit.uncertainty if fit else None, 2),
                    fit.method if fit else "-",
                    cand.decision,
                    cand.reason,
                    _fmt(cand.spent_cpu_s, 3) if cand.points else "-",
                    _fmt(cand.spent_kwh * 1000, 3) if cand.points else "-",
                    _fmt(full[0], 3) if full else "not measured",
                    _fmt(full[1] * 1000, 3) if full else "not measured",
                )
            )
            + "</tr>"
        )
    exhaustive_cpu, exhaustive_kwh = result.predicted_exhaustive()
    chosen = result.chosen
    verdict = "meets the threshold" if result.met_threshold else "does NOT meet the threshold (best available)"
    warning = f'<p class="warning"><b>Warning:</b> {html.escape(result.warning)}</p>' if result.warning else ""
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:72em;margin:1em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.25em .5em;text-align:left}}.warning{{color:#a00}}</style></head><body>
<h1>small_sample: {html.escape(chosen.name)} {verdict}</h1>
<p>Metric <b>{html.escape(result.metric)}</b> on a fixed holdout, threshold {result.threshold}, tolerance
{result.tolerance}. Chosen: <b>{html.escape(chosen.name)}</b>, predicted full-data {result.metric}
{chosen.fit.predicted if chosen.fit else float("nan"):.4f} &plusmn; {
        _fmt(chosen.fit.uncertainty if chosen.fit else None, 2)
    }; recommended training fraction <b>{result.fraction:.3g}</b> of {result.pool_rows} training rows.</p>
{warning}
<img alt="learning curves" src="data:image/png;base64,{png}">
<h2>Candidates, cost spent and predicted cost on all the data</h2>
<table><tr><th>candidate</th><th>fractions trained</th><th>predicted full-data metric</th><th>&plusmn;</th>
<th>curve</th><th>decision</th><th>why</th><th>CPU s spent</th><th>Wh spent</th>
<th>predicted CPU s on all data</th><th>predicted Wh on all data</th></tr>
{"".join(rows)}
<tr><th>total of the fits</th><td colspan="6"></td><th>{_fmt(result.spent_cpu_s, 3)}</th>
<th>{_fmt(result.spent_kwh * 1000, 3)}</th><th>{_fmt(exhaustive_cpu, 3)}</th><th>{
        _fmt(exhaustive_kwh * 1000, 3)
    }</th></tr>
<tr><th>whole search</th><td colspan="6">fits + sampling, curve fitting, first-use imports</td>
<th>{_fmt(search_cpu_s, 3)}</th><th>{_fmt(search_kwh * 1000, 3)}</th><td colspan="2"></td></tr></table>
<p>Predicted costs on all the data are <b>predictions</b> from the measured per-row cost of each candidate
(cost = fixed + per-row &times; rows, least squares over its measured runs); candidates never run have no
measurement and are neither predicted nor credited. Credited as avoided (small_sample):
{_fmt(avoided_kwh * 1000, 4)} Wh = predicted cost of training every measured candidate on all the data minus
what the whole search spent.</p>
</body></html>
"""

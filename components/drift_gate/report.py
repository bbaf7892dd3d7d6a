"""The HTML report: the decision in one sentence, its reasons, the per-feature table (by importance), and each
drifted feature's reference and current distributions drawn as inline SVG (overlaid ECDFs, or bars of category
shares). SVG written as text costs milliseconds; matplotlib took 1-3 s to import on these machines."""

from __future__ import annotations

import html
import math
from typing import Any

MAX_PLOTS = 12
WIDTH, HEIGHT, PAD = 320, 150, 28
COLOURS = {"reference": "#1f77b4", "current": "#d62728"}


def render(decision: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """One self-contained HTML page."""
    verdict = "RETRAIN" if decision["retrain"] else "no retrain"
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>drift gate</title><style>",
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
        "padding:2px 8px;text-align:right}td:first-child{text-align:left}.drift{background:#fde2e2}"
        "figure{display:inline-block;margin:0 1em 1em 0}figcaption{font-size:12px}</style>",
        f"</head><body><h1>Drift gate: {verdict}</h1>",
        f"<p class='summary'><b>{html.escape(decision.get('summary', ''))}</b></p><ul>",
    ]
    parts += [f"<li>{html.escape(reason)}</li>" for reason in decision["reasons"]]
    parts.append(
        "</ul><h2>Features</h2><table><tr><th>feature</th><th>importance</th><th>kind</th><th>test</th>"
        "<th>statistic</th><th>p-value</th><th>adjusted p-value</th><th>effect</th><th>drifted</th><th>note</th></tr>"
    )
    for row in decision["drift"]["features"]:
        klass = " class='drift'" if row["drifted"] else ""
        parts.append(
            f"<tr{klass}><td>{html.escape(str(row['feature']))}</td><td>{_num(row.get('importance'))}</td>"
            f"<td>{row['kind']}</td><td>{row['test'] or ''}</td><td>{_num(row['statistic'])}</td>"
            f"<td>{_num(row['p_value'])}</td><td>{_num(row.get('p_adjusted'))}</td><td>{_num(row['effect'])}</td>"
            f"<td>{'yes' if row['drifted'] else 'no'}</td><td>{html.escape(row['note'] or '')}</td></tr>"
        )
    parts.append("</table>")
    by_name = {r["feature"]: r for r in rows}
    drifted = [by_name[r["feature"]] for r in decision["drift"]["features"] if r["drifted"]]
    drifted = [r for r in drifted if "plot" in r]
    if drifted:
        parts.append("<h2>Drifted features</h2><p>Reference in blue, current batch in red.</p>")
        parts += [_figure(row) for row in drifted[:MAX_PLOTS]]
        if len(drifted) > MAX_PLOTS:
            parts.append(f"<p>{len(drifted) - MAX_PLOTS} more drifted features are in the table above.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _num(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else ("" if value is None else str(value))


def _figure(row: dict[str, Any]) -> str:
    name = html.escape(str(row["feature"]))
    caption = f"{name}: {row['test']} = {_num(row['statistic'])}, effect {_num(row['effect'])}"
    body = _ecdf(row["plot"]) if "categories" not in row["plot"] else _bars(row["plot"])
    return (
        f"<figure><svg xmlns='http://www.w3.org/2000/svg' width='{WIDTH}' height='{HEIGHT}' role='img' "
        f"aria-label='distributions of {name}'>{body}</svg><figcaption>{caption}</figcaption></figure>"
    )


def _ecdf(plot: dict[str, Any]) -> str:
    """Both empirical CDFs from their quantiles (x: value, y: share of rows at or below it)."""
    values = [v for side in ("reference", "current") for v in plot[side] if math.isfinite(v)]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    span = (high - low) or 1.0
    out = [_axes(f"{low:.3g}", f"{high:.3g}", "share <= value")]
    for side in ("reference", "current"):
        quantiles = plot[side]
        last = max(1, len(quantiles) - 1)
        points = " ".join(
            f"{PAD + (v - low) / span * (WIDTH - 2 * PAD):.1f},{HEIGHT - PAD - i / last * (HEIGHT - 2 * PAD):.1f}"
            for i, v in enumerate(quantiles)
            if math.isfinite(v)
        )
        out.append(f"<polyline fill='none' stroke='{COLOURS[side]}' stroke-width='1.5' points='{points}'/>")
    return "".join(out)


def _bars(plot: dict[str, Any]) -> str:
    """Each category's share of rows, reference and current side by side."""
    categories = plot["categories"][:20]
    totals = {side: sum(plot[side].values()) or 1 for side in ("reference", "current")}
    shares = {side: [plot[side].get(c, 0) / totals[side] for c in categories] for side in totals}
    top = max([*shares["reference"], *shares["current"], 1e-9])
    slot = (WIDTH - 2 * PAD) / max(1, len(categories))
    out = [
        _axes(str(categories[0])[:10] if categories else "", str(categories[-1])[:10] if categories else "", "share")
    ]
    for offset, side in enumerate(("reference", "current")):
        for i, share in enumerate(shares[side]):
            height = share / top * (HEIGHT - 2 * PAD)
            x = PAD + i * slot + offset * slot / 2
            out.append(
                f"<rect x='{x:.1f}' y='{HEIGHT - PAD - height:.1f}' width='{slot / 2 - 1:.1f}' height='{height:.1f}' "
                f"fill='{COLOURS[side]}'><title>{html.escape(str(categories[i]))}: {share:.3f}</title></rect>"
            )
    return "".join(out)


def _axes(left: str, right: str, label: str) -> str:
    bottom = HEIGHT - PAD
    return (
        f"<line x1='{PAD}' y1='{bottom}' x2='{WIDTH - PAD}' y2='{bottom}' stroke='#888'/>"
        f"<line x1='{PAD}' y1='{PAD}' x2='{PAD}' y2='{bottom}' stroke='#888'/>"
        f"<text x='{PAD}' y='{HEIGHT - 8}' font-size='10'>{html.escape(left)}</text>"
        f"<text x='{WIDTH - PAD}' y='{HEIGHT - 8}' font-size='10' text-anchor='end'>{html.escape(right)}</text>"
        f"<text x='2' y='{PAD - 8}' font-size='10'>{label}</text>"
    )

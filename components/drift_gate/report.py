"""The HTML report: the decision and its reasons, the per-feature table, and the drifted features' distributions."""

from __future__ import annotations

import base64
import html
import io
from typing import Any

MAX_PLOTS = 12


def render(decision: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """One self-contained HTML page (plots inlined as PNG)."""
    verdict = "RETRAIN" if decision["retrain"] else "no retrain"
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>drift gate</title><style>",
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
        "padding:2px 8px;text-align:right}td:first-child{text-align:left}.drift{background:#fde2e2}</style>",
        f"</head><body><h1>Drift gate: {verdict}</h1><ul>",
    ]
    parts += [f"<li>{html.escape(reason)}</li>" for reason in decision["reasons"]]
    parts.append(
        "</ul><h2>Features</h2><table><tr><th>feature</th><th>kind</th><th>test</th><th>statistic</th>"
        "<th>p-value (adjusted)</th><th>effect</th><th>drifted</th><th>note</th></tr>"
    )
    for row in decision["drift"]["features"]:
        klass = " class='drift'" if row["drifted"] else ""
        p_value = "" if row.get("p_value") is None else f"{row['p_value']:.3g} ({row.get('p_adjusted', 0):.3g})"
        parts.append(
            f"<tr{klass}><td>{html.escape(str(row['feature']))}</td><td>{row['kind']}</td><td>{row['test'] or ''}"
            f"</td><td>{_num(row['statistic'])}</td><td>{p_value}</td><td>{_num(row['effect'])}</td>"
            f"<td>{'yes' if row['drifted'] else 'no'}</td><td>{html.escape(row['note'] or '')}</td></tr>"
        )
    parts.append("</table>")
    drifted = [r for r in rows if r["drifted"] and "plot" in r]
    if drifted:
        shown = drifted[:MAX_PLOTS]
        names = ", ".join(html.escape(str(r["feature"])) for r in shown)
        parts.append(
            f"<h2>Drifted features</h2><img alt='distributions of {names}' src='data:image/png;base64,{_plots(shown)}'>"
        )
        if len(drifted) > MAX_PLOTS:
            parts.append(f"<p>{len(drifted) - MAX_PLOTS} more drifted features are in the table above.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _num(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else ("" if value is None else str(value))


def import_pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plots(rows: list[dict[str, Any]]) -> str:
    """One PNG, a grid of the drifted features' distributions (one figure: one draw, not one per feature)."""
    import numpy as np

    plt = import_pyplot()
    columns = 2 if len(rows) > 1 else 1
    lines = (len(rows) + columns - 1) // columns
    fig, axes = plt.subplots(lines, columns, figsize=(6 * columns, 2.6 * lines), dpi=72, squeeze=False)
    for ax in axes.flat[len(rows) :]:
        ax.axis("off")
    for ax, row in zip(axes.flat, rows, strict=False):
        plot = row["plot"]
        if "edges" in plot:
            edges = np.asarray(plot["edges"])
            centres = (edges[:-1] + edges[1:]) / 2 if edges.size > 1 else edges
            width = (edges[1] - edges[0]) * 0.4 if edges.size > 1 else 1.0
            ax.bar(centres - width / 2, plot["reference"], width=width, label="reference")
            ax.bar(centres + width / 2, plot["current"], width=width, label="current")
            ax.set_xlabel("value (outer bins are open-ended)", fontsize=7)
        else:
            cats = plot["categories"][:30]
            ref_total = sum(plot["reference"].values()) or 1
            cur_total = sum(plot["current"].values()) or 1
            x = np.arange(len(cats))
            ax.bar(x - 0.2, [plot["reference"].get(c, 0) / ref_total for c in cats], width=0.4, label="reference")
            ax.bar(x + 0.2, [plot["current"].get(c, 0) / cur_total for c in cats], width=0.4, label="current")
            ax.set_xticks(x, [str(c)[:12] for c in cats], rotation=45, ha="right", fontsize=7)
        ax.set_ylabel("share", fontsize=7)
        ax.set_title(f"{row['feature']}: {row['test']} = {row['statistic']:.3g}", fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")

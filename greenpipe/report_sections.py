"""Sections of the HTML report that show what a step produced, and how a component provides its own.

The engine knows no component. A component that wants its output shown its own way registers a renderer for
(step, output) at import of its step module, by dotted path, so registering costs nothing until a report is built:

    from greenpipe.report_sections import register_section

    register_section("greenpipe.components.drift_gate.steps:drift_gate", "report",
                     "greenpipe.components.drift_gate.report:report_section")

A renderer takes an `ArtifactView` and returns a `Section`: HTML made of escaped text, `html_table`s and
`figure`s (a matplotlib figure whose every plot has a title and labelled axes). Outputs without a registered
renderer are shown by kind: Metrics as a table, a Report's HTML inline (sanitised, see report_embed), a trial
table (columns number, state, value) as a tuning-history plot.
"""

from __future__ import annotations

import base64
import html
import importlib
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from greenpipe.report_format import number


@dataclass(frozen=True)
class ArtifactView:
    """One stored output as a renderer sees it."""

    task: str
    output: str
    kind: str
    path: Path
    digest: str
    step_ref: str


@dataclass(frozen=True)
class Section:
    """What a renderer returns: a heading and trusted HTML built from escaped parts."""

    title: str
    body: str


Renderer = Callable[[ArtifactView], "Section | None"]

_REGISTERED: dict[tuple[str, str], Renderer | str] = {}


def register_section(step_ref: str, output: str, renderer: Renderer | str) -> None:
    """Show `output` of the step `step_ref` ("module:function") with `renderer` (a callable or "module:function")."""
    _REGISTERED[(step_ref, output)] = renderer


def render_artifact(view: ArtifactView) -> Section | None:
    """The section for one output: the component's registered renderer, else the default for its kind."""
    renderer = _registered_renderer(view.step_ref, view.output)
    if renderer is not None:
        return renderer(view)
    default = _BY_KIND.get(view.kind)
    return default(view) if default else None


def import_step_module(step_ref: str) -> bool:
    """Import the module of the step `step_ref` ("module:function"), where a component registers its renderers
    and credit kinds; False for a step from a project that is not importable here (shown by its raw names)."""
    module = step_ref.partition(":")[0]
    if not module:
        return False
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def _registered_renderer(step_ref: str, output: str) -> Renderer | None:
    if (step_ref, output) not in _REGISTERED and not import_step_module(step_ref):
        return None  # show its output by kind
    found = _REGISTERED.get((step_ref, output))
    if isinstance(found, str):
        from greenpipe.refs import resolve_ref

        found = resolve_ref(found, "report renderer")
        _REGISTERED[(step_ref, output)] = found
    return found


def html_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """An HTML table; cells are escaped text, numbers in the report's one format."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class='num'>{number(c)}</td>"
            if isinstance(c, int | float) and not isinstance(c, bool)
            else f"<td>{html.escape(str(c))}</td>"
            for c in row
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def figure(fig: Any, caption: str = "") -> str:
    """A matplotlib figure as an inline PNG in a <figure> carrying each plot's title and axis labels.

    Raises ValueError when a plot has no title or an unlabelled axis: a plot a reader cannot read is a bug.
    """
    import matplotlib.pyplot as plt

    axes = [ax for ax in fig.get_axes() if ax.get_visible() and ax.axison]
    titles, xlabels, ylabels = [], [], []
    for ax in axes:
        title, xlabel, ylabel = ax.get_title(), ax.get_xlabel(), ax.get_ylabel()
        if not (title and xlabel and ylabel):
            plt.close(fig)
            raise ValueError(f"plot {title or '(untitled)'!r} needs a title and both axis labels")
        titles.append(title)
        xlabels.append(xlabel)
        ylabels.append(ylabel)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode()
    name = caption or "; ".join(titles)
    attrs = " ".join(
        f"data-{key}='{html.escape(' | '.join(values), quote=True)}'"
        for key, values in (("title", titles), ("xlabel", xlabels), ("ylabel", ylabels))
    )
    return (
        f"<figure class='plot' {attrs}><img alt='{html.escape(name, quote=True)}' "
        f"src='data:image/png;base64,{data}'><figcaption>{html.escape(name)}</figcaption></figure>"
    )


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (imported on first use: it is heavy)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _metrics(view: ArtifactView) -> Section | None:
    values = json.loads(view.path.read_text(encoding="utf-8"))
    rows = [[k, v] for k, v in sorted(values.items()) if isinstance(v, int | float)]
    return Section(f"{view.task}.{view.output} (metrics)", html_table(["metric", "value"], rows)) if rows else None


def _report(view: ArtifactView) -> Section | None:
    from greenpipe.report_embed import embed_report

    return Section(f"{view.task}.{view.output}", embed_report(view.path))


def _trial_table(view: ArtifactView) -> Section | None:
    """A table of trials (columns number, state, value) as the value of each trial and the best so far."""
    if not view.path.is_file() or view.path.suffix not in ("", ".parquet"):
        return None
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:  # the schema first: a large training set is not read to learn it is not a trial table
        columns = set(pq.read_schema(view.path).names)
    except (OSError, pa.ArrowException):
        return None  # not Parquet: not a trial table
    if not {"number", "state", "value"} <= columns:
        return None
    trials = pq.read_table(view.path).to_pandas()
    if trials.empty:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.4))
    for state, colour in (("COMPLETE", "#3b7d4f"), ("PRUNED", "#b5523b"), ("FAIL", "#777777")):
        part = trials[trials["state"] == state]
        if not part.empty:  # the legend names only what happened
            ax.scatter(part["number"], part["value"], s=18, color=colour, label=f"{state.lower()} ({len(part)})")
    done = trials[trials["state"] == "COMPLETE"].sort_values("number")
    if not done.empty:
        ax.step(done["number"], done["value"].cummax(), where="post", color="#1d2a22", label="best so far")
    ax.set_title(f"{view.task}: objective of each trial")
    ax.set_xlabel("trial number")
    ax.set_ylabel("objective value")
    ax.legend(fontsize=8)
    fig.tight_layout()
    counts = trials["state"].value_counts()
    summary = ", ".join(f"{n} {state.lower()}" for state, n in counts.items())
    return Section(
        f"{view.task}.{view.output} (tuning history)", f"<p>{len(trials)} trials: {summary}.</p>{figure(fig)}"
    )


_BY_KIND: dict[str, Renderer] = {"metrics": _metrics, "report": _report, "dataset": _trial_table}

"""`greenpipe report` writes one self-contained HTML page a person reads top to bottom, and a real browser lays it
out without clipping anything: summary first, each artifact once, step reports inline and sanitised, one number
format, plots with titles and labelled axes, and components' own sections through a registration."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import tempfile
import textwrap
from html.parser import HTMLParser

import pytest

from greenpipe.report_embed import sanitise
from greenpipe.report_format import count, digest, number, quantity

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

REPORT_PIPE = '''
import base64
import io
import json

from greenpipe import Dataset, Metrics, Output, Report, pipeline, step
from greenpipe.report_sections import Section, figure, html_table, pyplot, register_section


@step
def tune(history: Output[Dataset], metrics: Output[Metrics], trials: int = 8) -> None:
    """A trial table (number, state, value) as a tuner writes it; nothing pruned."""
    import pandas as pd

    rows = [{"number": i, "state": "COMPLETE", "value": 0.5 + 0.01 * (i % 5)} for i in range(trials)]
    pd.DataFrame(rows).to_parquet(history.path, index=False)
    metrics.log_metric("best", 0.54)
    metrics.log_metric("tiny", 3.82e-05)


@step
def inspect(report: Output[Report], columns: int = 14) -> None:
    """A step's own HTML page: a script, handlers, an iframe, a remote image, a wide table, a wide plot."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(18, 3))
    ax.plot([0, 1, 2], [2, 0, 1])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    png = base64.b64encode(buffer.getvalue()).decode()
    head = "".join(f"<th>column_with_a_long_name_{i}</th>" for i in range(columns))
    row = "".join(f"<td>{0.000012345 * i:.6e}</td>" for i in range(columns))
    digest = "blake3:" + "ab" * 32
    page = (
        "<!doctype html><html><head><title>own</title><style>body{width:3000px}</style>"
        "<script>document.title='pwned'</script></head><body onload='alert(1)'>"
        f"<h1>Inspection</h1><p>model {digest}</p><iframe src='https://example.com'></iframe>"
        "<img src='https://example.com/x.png' alt='remote'>"
        f"<table style='width:2500px'><tr>{head}</tr><tr>{row}</tr></table>"
        f"<img alt='inspection residuals' src='data:image/png;base64,{png}'></body></html>"
    )
    with open(report.path, "w", encoding="utf-8") as handle:
        handle.write(page)


@step
def score(metrics: Output[Metrics], seed: int = 0) -> None:
    metrics.log_metric("accuracy", 0.9 + seed / 1000)
    metrics.log_metric("recall", 0.8)


def score_section(view):
    values = json.loads(view.path.read_text())
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 2.5))
    ax.bar(list(values), list(values.values()))
    ax.set_title("scores of this model")
    ax.set_xlabel("metric")
    ax.set_ylabel("value")
    table = html_table(["metric", "value"], sorted(values.items()))
    return Section("score: the registered section", table + figure(fig))


register_section(score.spec.ref, "metrics", score_section)


@pipeline
def reporting(trials: int = 8, columns: int = 14, seed: int = 0) -> None:
    tune(trials=trials)
    inspect(columns=columns)
    score(seed=seed)
'''


class _Text(HTMLParser):
    """The text a reader sees (no attributes, no style)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        self.skip += tag in ("style", "script")

    def handle_endtag(self, tag):
        self.skip -= tag in ("style", "script")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def visible_text(page: str) -> str:
    parser = _Text()
    parser.feed(page)
    return " ".join(parser.parts)


@pytest.fixture
def reported(cli, tmp_path):
    """Three runs: the first computes, the second is answered by the cache, the third changes one step."""
    (cli.cwd / "report_pipe.py").write_text(textwrap.dedent(REPORT_PIPE))
    cli("run", "report_pipe.py:reporting")
    cli("run", "report_pipe.py:reporting")
    cli("run", "report_pipe.py:reporting", "--param", "seed=1")
    out = tmp_path / "since.html"
    assert "(3 runs)" in cli("report", "--since", "1d", "--out", str(out)).stdout
    return out


def test_report_reads_top_to_bottom_with_each_artifact_once(reported):
    page = reported.read_text()
    text = visible_text(page)
    summary, runs, findings = (page.index(h) for h in ("<h2>Summary", "<h2>Runs", "<h2>What the steps found"))
    assert summary < runs < findings  # summary first, then runs, then the findings
    assert "3 runs" in text and "1 runs" not in text
    assert page.count("<section class='run'") == 3
    # the trial table, the report and tune's metrics were computed once and reused: one section each
    assert page.count("<h3>tune.history (tuning history)</h3>") == 1
    assert page.count("<h3>inspect.report</h3>") == 1
    assert page.count("<h3>tune.metrics (metrics)</h3>") == 1
    assert "in 3 runs" in text
    # score changed in the third run: two artifacts, each shown once with the component's registered section
    assert page.count("<h3>score: the registered section</h3>") == 2
    assert "<h3>score.metrics (metrics)</h3>" not in page
    # the legend names only what happened; nothing was pruned
    assert "8 trials: 8 complete" in text and "pruned" not in text.lower()
    # one number format with units: no exponents, no 0.0000
    assert not re.search(r"\d[eE][-+]\d", text), re.search(r".{40}\d[eE][-+]\d.{20}", text)
    assert "0.0000 " not in text
    assert "0.0000382" in text  # tune's tiny metric, plain
    assert re.search(r"\d (m|µ|n)?Wh", text) and re.search(r"\d (m|µ|n)?gCO2e", text)
    # long digests shortened, the full value on hover
    assert not re.search(r"blake3:[0-9a-f]{64}", text)
    assert re.search(r"<code class='digest' title='blake3:(ab){32}'>blake3:abababababab…</code>", page)
    # one self-contained file, no frames, nothing from the step's page that runs or fetches
    assert "<iframe" not in page and "<script" not in page and "onload" not in page and "pwned" not in page
    assert not re.search(r"(src|href)=['\"]https?://", page)
    assert "cache hits" in text and "gCO2e/kWh" in text and "What would change it" in text


def test_numbers_digests_and_counts_have_one_format():
    assert [number(v) for v in (0, 0.0, 3.82e-05, 0.5, 12.345, 1234.6, 7)] == [
        "0", "0", "0.0000382", "0.5", "12.3", "1,235", "7",
    ]  # fmt: skip
    assert quantity(3.82e-05, "Wh") == "38.2 µWh" and quantity(0, "gCO2e") == "0 gCO2e"
    assert quantity(1500, "Wh") == "1.5 kWh" and quantity(0.25, "s") == "250 ms"
    assert number(float("inf")) == "∞" and number(float("nan")) == "n/a"
    assert count(1, "run") == "1 run" and count(5, "run") == "5 runs"
    shown = digest("sha256:" + "0" * 64)
    assert shown.startswith("<code class='digest' title='sha256:" + "0" * 64 + "'>sha256:000000000000…")


def test_step_html_is_sanitised_not_framed():
    clean = sanitise(
        "<html><head><style>p{}</style><script>alert(1)</script></head><body><h1 onclick='x()'>Drift</h1>"
        "<svg><path/><text>hidden</text></svg><a href='javascript:x()'>link</a><img src='http://x/y.png'>"
        "<table><tr class='drift'><td>1.5e-07</td><td>&lt;b&gt;</td></tr></table></body></html>"
    )
    assert clean == (
        "<h4>Drift</h4>link<table><tr class='step-drift'><td>0.00000015</td><td>&lt;b&gt;</td></tr></table>"
    )


def test_report_for_one_run_and_for_runs_since_a_date(cli, tmp_path):
    cli("run", "pipe.py:demo")
    cli("run", "pipe.py:demo")
    out = tmp_path / "report.html"
    assert "wrote" in cli("report", "latest", "--out", str(out)).stdout
    page = out.read_text()
    assert page.count("data:image/png;base64,") >= 1  # plots are inline
    assert "Cloud Carbon Footprint" in page and "1 run" in visible_text(page)
    since = tmp_path / "since.html"
    cli("report", "--since", "1d", "--out", str(since))
    assert since.read_text().count("<section class='run'") == 2


LAYOUT_CHECK = """
<script>
window.addEventListener('load', () => {
  const problems = [];
  const where = (el) => el.tagName.toLowerCase() + (el.className ? '.' + el.className : '') +
    ' in ' + (el.closest('section') ? el.closest('section').id || el.closest('section').className : 'body');
  for (const el of document.querySelectorAll('body *')) {
    const style = getComputedStyle(el);
    const hides = (v) => ['hidden', 'auto', 'scroll', 'clip'].includes(v);
    if (hides(style.overflowX) && el.scrollWidth > el.clientWidth + 1) problems.push('scrolls sideways: ' + where(el));
    if (hides(style.overflowY) && el.scrollHeight > el.clientHeight + 1) problems.push('scrolls: ' + where(el));
  }
  for (const section of document.querySelectorAll('section')) {
    const box = section.getBoundingClientRect();
    for (const el of section.querySelectorAll('*')) {
      const r = el.getBoundingClientRect();
      if (r.width > 0 && (r.right > box.right + 1 || r.left < box.left - 1)) problems.push('sticks out: ' + where(el));
    }
  }
  if (document.documentElement.scrollWidth > window.innerWidth) problems.push('the page is wider than the window');
  const plots = [...document.querySelectorAll('figure.plot')].map(
    (f) => ({title: f.dataset.title, x: f.dataset.xlabel, y: f.dataset.ylabel}));
  const images = [...document.images].map((i) => ({ok: i.complete && i.naturalWidth > 0,
    titled: !!(i.closest('figure') && i.closest('figure').querySelector('figcaption').textContent.trim())}));
  document.body.setAttribute('data-layout', JSON.stringify(
    {problems, plots, images, iframes: document.querySelectorAll('iframe').length}));
});
</script>
"""


def _chromium(url: str, *args: str, width: int) -> str:
    profile = tempfile.mkdtemp()
    proc = subprocess.run(
        [
            CHROMIUM or "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--window-size={width},1600",
            *args,
            url,
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    shutil.rmtree(profile, ignore_errors=True)
    return proc.stdout


@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"), reason="needs Debian's chromium (CI installs it)")
def test_report_lays_out_in_headless_chromium_without_clipping(reported, tmp_path):
    assert CHROMIUM, "chromium is not installed: .ci/run installs Debian's chromium package"
    checked = tmp_path / "checked.html"
    checked.write_text(reported.read_text().replace("</body>", LAYOUT_CHECK + "</body>"))
    for width in (1280, 900):  # a laptop and half a wide screen
        dom = _chromium(checked.as_uri(), "--virtual-time-budget=10000", "--dump-dom", width=width)
        found = re.search(r'data-layout="([^"]*)"', dom)
        assert found, "the layout check did not run"
        layout = json.loads(html.unescape(found.group(1)))
        assert layout["problems"] == [], (width, layout["problems"][:10])
        assert layout["iframes"] == 0
        assert len(layout["plots"]) >= 4  # energy, tuning history, two registered score sections
        for plot in layout["plots"]:
            assert plot["title"] and plot["x"] and plot["y"], plot
        assert layout["images"] and all(i["ok"] and i["titled"] for i in layout["images"]), layout["images"]
    shot = tmp_path / "report.png"
    _chromium(reported.as_uri(), f"--screenshot={shot}", width=1280)
    from PIL import Image

    colours = len(Image.open(shot).convert("RGB").getcolors(maxcolors=1 << 24) or [])
    assert colours > 50, "no plot rendered (too few colours)"

"""`greenpipe report` writes one self-contained HTML file with plots that a real browser renders."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def test_report_for_a_run_and_since_a_date(cli, tmp_path):
    cli("run", "pipe.py:demo")
    cli("run", "pipe.py:demo")
    out = tmp_path / "report.html"
    assert "wrote" in cli("report", "latest", "--out", str(out)).stdout
    page = out.read_text()
    assert page.count("data:image/png;base64,") >= 1  # plots are inline
    assert not re.search(r"(src|href)=['\"]https?://", page)  # nothing fetched from the network
    assert "cache hits" in page and "gCO2e/kWh" in page and "Cloud Carbon Footprint" in page
    since = tmp_path / "since.html"
    cli("report", "--since", "1d", "--out", str(since))
    assert since.read_text().count("<section class='run'>") == 2


@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"), reason="needs Debian's chromium (CI installs it)")
def test_report_renders_in_headless_chromium(cli, tmp_path):
    assert CHROMIUM, "chromium is not installed: .ci/run installs Debian's chromium package"
    cli("run", "pipe.py:demo")
    out = tmp_path / "report.html"
    cli("report", "latest", "--out", str(out))
    shot = tmp_path / "report.png"
    profile = tempfile.mkdtemp()
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--window-size=1280,1600",
            f"--screenshot={shot}",
            out.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    from PIL import Image

    image = Image.open(shot).convert("L")
    assert image.size == (1280, 1600)
    histogram = image.histogram()
    dark = sum(histogram[:128]) / sum(histogram)
    assert dark > 0.005, "the page rendered blank"
    colours = len(Image.open(shot).convert("RGB").getcolors(maxcolors=1 << 24) or [])
    assert colours > 50, "no plot rendered (too few colours)"

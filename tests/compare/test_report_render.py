"""The HTML report renders in a real headless Chromium (Debian's), showing verdict and plots."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image

from .test_compare_runs import _compare

pytestmark = [pytest.mark.browser]


def _has_colour(pixels: np.ndarray, hex_colour: str, tolerance: float = 0.03, minimum: int = 50) -> bool:
    rgb = np.array([int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    close = np.all(np.abs(pixels[..., :3] - rgb) < tolerance, axis=-1)
    return int(close.sum()) >= minimum


def test_html_report_renders_in_chromium(runs: dict[str, Path], tmp_path: Path) -> None:
    browser = shutil.which("chromium")
    assert browser, "Debian's chromium is needed: bash install.sh --for-tests installs it"
    _compare(runs["fp32"], runs["rounded"], tmp_path)
    shot = tmp_path / "report.png"
    done = subprocess.run([
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1400,2600", f"--screenshot={shot}",
        (tmp_path / "report.html").as_uri(),
    ], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    pixels = image.imread(str(shot))
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    colour = {"PASS": "#2e7d32", "FAIL": "#c62828", "INCONCLUSIVE": "#ef6c00"}
    assert _has_colour(pixels[:120], colour[verdict["verdict"]]), "the headline verdict is not visible"
    # Below the headline: the unit table and the unit plot draw each unit in its verdict colour;
    # the per-subject diagnostics are collapsed (<details>), so the page is the decision first.
    body = pixels[120:]
    for unit in verdict["units"]:
        assert _has_colour(body, colour[unit["verdict"]], minimum=100), f"{unit['unit']} is not visible"
    assert _has_colour(body, "#000000", tolerance=0.1, minimum=1000), "no plot axes or CI bars drawn"


def test_first_screen_shows_decision_reason_and_next_steps(runs: dict[str, Path], tmp_path: Path) -> None:
    """Laid out by Chromium at 1400x900: the verdict, its reason and the next steps start on the
    first screen; the Method and the legend are on the page. (A copy of the report gets a
    script that writes where those elements are into the page, read back with --dump-dom.)"""
    browser = shutil.which("chromium")
    assert browser, "Debian's chromium is needed: bash install.sh --for-tests installs it"
    _compare(runs["fp32"], runs["rounded"], tmp_path)
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert verdict["verdict"] == "INCONCLUSIVE" and verdict["next_steps"], verdict["verdict"]
    measure = ("<script>document.body.setAttribute('data-layout', JSON.stringify(Object.fromEntries("
               "['verdict', 'why', 'next-steps', 'method', 'legend', 'causes-legend'].map(id => [id, "
               "document.getElementById(id) ? document.getElementById(id).getBoundingClientRect().top : null]))));</script>")
    page = tmp_path / "measured.html"
    page.write_text((tmp_path / "report.html").read_text().replace("</body>", measure + "</body>"))
    done = subprocess.run([
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1400,900", "--dump-dom", page.as_uri(),
    ], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r'data-layout="([^"]*)"', done.stdout)
    assert found, done.stdout[-2000:]
    layout = json.loads(html.unescape(found.group(1)))
    assert all(layout[k] is not None for k in layout), layout
    assert layout["verdict"] < layout["why"] < layout["next-steps"] < 900, layout
    assert layout["method"] > layout["next-steps"] and layout["legend"] > layout["method"], layout

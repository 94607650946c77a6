"""report.html in headless Chromium: every plot loads and a screenshot is taken."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=5000",
]


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("chromium not installed (scripts/test.sh installs Debian's chromium with apt-get)")
    return path


def run_chromium(chromium: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([chromium, *CHROMIUM_FLAGS, *args], capture_output=True, text=True, timeout=120)


def test_report_renders_in_chromium_with_every_plot_loaded(phantom_run, chromium, tmp_path):
    report = phantom_run.outputs.report_path
    html = report.read_text(encoding="utf-8")
    n_images = html.count("<img ")
    assert n_images > 10 and "http://" not in html and "https://" not in html  # self-contained
    dom = run_chromium(chromium, f"--user-data-dir={tmp_path / 'profile-dom'}", "--dump-dom", report.as_uri())
    status = re.search(r'id="plots-status" data-status="([^"]+)"', dom.stdout)
    assert status is not None, dom.stderr[-2000:]
    assert status.group(1) == f"plots-loaded:{n_images}/{n_images}"
    screenshot = tmp_path / "report.png"
    run_chromium(
        chromium,
        f"--user-data-dir={tmp_path / 'profile-shot'}",
        f"--screenshot={screenshot}",
        "--window-size=1280,2000",
        report.as_uri(),
    )
    assert screenshot.is_file() and screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 20_000  # a rendered page, not a blank one


@pytest.mark.parametrize("n_models", [3, 19])
def test_the_top_of_a_3_and_a_19_model_report_renders_in_chromium(n_models, chromium, tmp_path):
    from SegQualityReviewLib.batch.synthetic_scores import synthetic_score_table
    from SegQualityReviewLib.cli import main

    table = synthetic_score_table(n_models=n_models, n_cases=40, structures=("liver", "pancreas", "spleen"))
    table.to_csv(tmp_path / "scores.csv", index=False)
    out = tmp_path / "out"
    arguments = [
        "analyze",
        "--scores",
        str(tmp_path / "scores.csv"),
        "--out",
        str(out),
        "--n-resamples",
        "2000",
    ]
    assert main(arguments + ["--missing-blank", "not_evaluable", "--alignment", "per_pair"]) == 0
    report = out / "report.html"
    html = report.read_text(encoding="utf-8")
    n_images = html.count("<img ")
    dom = run_chromium(chromium, f"--user-data-dir={tmp_path / 'profile-dom'}", "--dump-dom", report.as_uri())
    status = re.search(r'id="plots-status" data-status="([^"]+)"', dom.stdout)
    assert status is not None and status.group(1) == f"plots-loaded:{n_images}/{n_images}"
    # The answer comes first: leaderboard, one sentence per structure and the heatmap before any detail.
    top = html[: html.index("<h2>Per structure</h2>")]
    assert "Which model, how sure" in top and top.count("<li>") == 3 and 'class="hm"' in top
    assert all(f"model_{letter}" in top for letter in "ABC")
    screenshot = tmp_path / f"report_{n_models}.png"
    run_chromium(
        chromium,
        f"--user-data-dir={tmp_path / 'profile-shot'}",
        f"--screenshot={screenshot}",
        "--window-size=1280,1000",
        report.as_uri(),
    )
    assert screenshot.is_file() and screenshot.stat().st_size > 20_000
    assert report.stat().st_size < 1_500_000

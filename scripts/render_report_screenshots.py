"""Render the report screenshots of docs/ with headless Chromium, from the project's own output.

- docs/images/report_3_models.png and report_19_models.png: the top of the report ("which model, how sure")
  for SYNTHETIC score tables (``batch.synthetic_scores``) of 3 models x 200 cases and of Touchstone's size,
  19 models x 743 cases, 9 organs, Dice and NSD, analysed as `segquality analyze` does.
- docs/images/report_structure.png: the first structure's section of the 19-model report (blob plot,
  significance matrix).
- docs/images/report_gallery.png: the failure gallery of the demo's SYNTHETIC phantom cohort.
- Resources/Screenshots/report.png: the Extension Manager's report screenshot, the phantom report's top.

Run from the repository root: .venv/bin/python scripts/render_report_screenshots.py (about 2 minutes).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"


def screenshot(browser: str, page: str, path: Path, *, height: int = 1000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--window-size=1280,{height}",
                f"--screenshot={path}",
                page,
            ],
            check=True,
            capture_output=True,
        )


def excerpt(report: Path, start: str, stop: str) -> str:
    """A page holding the report's head and only the part from ``start`` to ``stop`` (headless Chromium's
    screenshot ignores a URL's #fragment, so a section is shot on a page of its own)."""
    html = report.read_text(encoding="utf-8")
    head = html[: html.index("<body>") + len("<body>")]
    begin = html.index(start)
    page = report.with_name(f"excerpt_{abs(hash(start))}.html")
    page.write_text(head + html[begin : html.index(stop, begin)] + "</body></html>", encoding="utf-8")
    return page.as_uri()


def analyze(table_path: Path, out: Path) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "SegQualityReviewLib",
            "analyze",
            "--scores",
            str(table_path),
            "--out",
            str(out),
        ]
        + ["--metrics", "dice,nsd", "--missing-blank", "not_evaluable", "--alignment", "per_pair"],
        check=True,
        capture_output=True,
    )
    return out / "report.html"


def main() -> None:
    from SegQualityReviewLib.batch.phantom import write_phantom_cohort
    from SegQualityReviewLib.batch.synthetic_scores import synthetic_score_table

    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        raise SystemExit("no Chromium found: the screenshots need a headless browser")
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        for n_models, n_cases in ((3, 200), (19, 743)):
            table = work / f"scores_{n_models}.csv"
            synthetic_score_table(n_models=n_models, n_cases=n_cases).to_csv(table, index=False)
            report = analyze(table, work / f"out_{n_models}")
            screenshot(browser, report.as_uri(), IMAGES / f"report_{n_models}_models.png")
        section = excerpt(
            report,
            '<details class="structure" id="structure-0"',
            '<details class="structure" id="structure-1"',
        )
        screenshot(browser, section, IMAGES / "report_structure.png", height=900)
        cohort = write_phantom_cohort(work / "cohort")
        subprocess.run(
            [sys.executable, "-m", "SegQualityReviewLib", "compare", "--config", str(cohort.config_path)]
            + ["--out", str(work / "phantom"), "--no-progress"],
            check=True,
            capture_output=True,
        )
        phantom = work / "phantom" / "report.html"
        gallery = excerpt(phantom, '<h3 id="gallery">', "<h2>Subgroups</h2>")
        screenshot(browser, gallery, IMAGES / "report_gallery.png", height=900)
        screenshot(browser, phantom.as_uri(), ROOT / "Resources" / "Screenshots" / "report.png", height=960)


if __name__ == "__main__":
    main()

"""A real `segquality compare` process killed (SIGKILL) at sampled points: never a half-written output folder,
and the rerun resumes to a byte-identical cases.csv and the same analysis."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from SegQualityReviewLib.batch import load_config, run_compare, write_phantom_cohort
from SegQualityReviewLib.batch.cache import file_sha256
from SegQualityReviewLib.batch.pipeline import OUTPUT_FILES, cache_folder

RESAMPLES = 200


@pytest.fixture(scope="module")
def cohort_and_reference(tmp_path_factory):
    """A small phantom cohort and its uninterrupted comparison (in-process), to compare every resumed run to."""
    root = tmp_path_factory.mktemp("kill")
    cohort = write_phantom_cohort(root / "inputs", n_patients=5)
    config = load_config(cohort.config_path, workers=1)
    config = replace(config, analysis=replace(config.analysis, n_resamples=RESAMPLES))
    reference = run_compare(config, root / "reference", progress=False)
    return cohort, reference


def start_compare(cohort, out: Path, *, stderr=subprocess.DEVNULL) -> subprocess.Popen:
    argv = [sys.executable, "-m", "SegQualityReviewLib", "compare", "--config", str(cohort.config_path),
            "--out", str(out), "--workers", "1", "--n-resamples", str(RESAMPLES), "--progress-lines"]  # fmt: skip
    # Its own process group, so the kill reaches anything it started.
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr, text=True, start_new_session=True)


def kill_when(process: subprocess.Popen, message: str, *, delay_s: float = 0.0) -> None:
    """SIGKILL the process group once a progress line ends with ``message`` (or when it exits first)."""
    for line in process.stdout:
        if line.rstrip().endswith(message):
            time.sleep(delay_s)
            break
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    process.stdout.close()


def assert_complete_run_or_absent(out: Path, *, may_be_absent: bool) -> None:
    """The output folder holds a complete, self-consistent run, or (before any completed) does not exist."""
    if not out.exists():
        assert may_be_absent, f"{out} vanished although a complete run was there"
        return
    assert sorted(entry.name for entry in out.iterdir()) == sorted(OUTPUT_FILES)
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["scores_sha256"] == file_sha256(out / "cases.csv")
    assert (out / "report.html").read_text(encoding="utf-8").rstrip().endswith("</html>")


def test_a_compare_killed_anywhere_leaves_no_half_written_folder_and_resumes_exactly(
    cohort_and_reference, tmp_path
):
    cohort, reference = cohort_and_reference
    out = tmp_path / "out"
    n_cells = len(json.loads(reference.results_path.read_text())["analysis"]["models"]) * cohort.n_cases
    # First runs killed while scoring, analysing and writing the report: no output folder yet.
    for message in (f"scored 3/{n_cells} cells", "analysing", "writing the report"):
        kill_when(start_compare(cohort, out), message)
        assert_complete_run_or_absent(out, may_be_absent=True)
    assert len(list(cache_folder(out).glob("*.json"))) >= 3  # the scored cells were kept for the resume
    finished = start_compare(cohort, out, stderr=subprocess.PIPE)
    _, errors = finished.communicate(timeout=600)
    assert finished.returncode == 0, errors
    assert (out / "cases.csv").read_bytes() == reference.scores_path.read_bytes()
    analysis = json.loads((out / "results.json").read_text())["analysis"]
    assert analysis == json.loads(reference.results_path.read_text())["analysis"]
    assert not [entry.name for entry in out.parent.iterdir() if ".partial-" in entry.name]
    # Reruns over the complete run, killed while writing and around the swap: the old run or the new one.
    for delay_s in (0.0, 0.5, 1.5):
        kill_when(start_compare(cohort, out), "writing the report", delay_s=delay_s)
        assert_complete_run_or_absent(out, may_be_absent=False)
        assert (out / "cases.csv").read_bytes() == reference.scores_path.read_bytes()


def test_a_crash_while_writing_the_report_leaves_the_previous_run_untouched(tmp_path, monkeypatch):
    """The issue's plot crash (a model name matplotlib could not draw) after every cell was scored."""
    from SegQualityReviewLib.batch import AnalysisSettings, pipeline, run_analyze

    rows = ["case_id,patient_id,model,structure,metric,value"]
    rows += [
        f"c{i},p{i},{m},liver,dice,{0.6 + 0.05 * i + (0.1 if m == 'a' else 0)}"
        for i in range(5)
        for m in "ab"
    ]
    (tmp_path / "scores.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    settings = AnalysisSettings(metrics=("dice",), n_resamples=100)
    out = tmp_path / "out"

    def crash(inputs, path):
        path.write_text("<html>half a report", encoding="utf-8")
        raise ValueError("matplotlib could not parse the label")

    monkeypatch.setattr(pipeline, "write_report", crash)
    with pytest.raises(ValueError):
        run_analyze(tmp_path / "scores.csv", settings, out)
    assert not out.exists()  # no half-written first run
    monkeypatch.undo()
    first = run_analyze(tmp_path / "scores.csv", settings, out)
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    monkeypatch.setattr(pipeline, "write_report", crash)
    with pytest.raises(ValueError):
        run_analyze(tmp_path / "scores.csv", replace(settings, seed=1), out)
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before  # the old complete run
    assert first.results["config"]["analysis"]["seed"] == 0
    assert not [entry.name for entry in tmp_path.iterdir() if entry.name.startswith(".out.")]

"""JobRun around the core's process runner (progress, failure, cancel) and results.json as Batch-tab rows."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from SegQualityReviewLib.review import (
    JobFailedError,
    JobRun,
    case_files,
    start_process,
    summary_rows,
    worst_case_rows,
)


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_wait_passes_progress_on_and_a_clean_exit_passes_the_check(tmp_path):
    run = JobRun(
        start_process(_python("print('PROGRESS 0.5 half'); print('log'); print('PROGRESS 1 done')")),
        folder=tmp_path,
    )
    seen = []
    run.wait(progress=lambda fraction, message: seen.append((fraction, message)))
    assert seen == [(0.5, "half"), (1.0, "done")] and run.finished
    run.check("the job")


def test_a_failing_worker_raises_with_its_own_error_line(tmp_path):
    run = JobRun(
        start_process(_python("import sys; print('ERROR seg.nii.gz: no such file'); sys.exit(2)")),
        folder=tmp_path,
    )
    run.wait()
    with pytest.raises(JobFailedError, match=r"the job: failed \(exit code 2\): seg.nii.gz: no such file"):
        run.check("the job")


def test_cancel_kills_a_running_job(tmp_path):
    run = JobRun(
        start_process(_python("import time; print('PROGRESS 0.1 start', flush=True); time.sleep(60)")),
        folder=tmp_path,
    )
    assert not run.finished
    run.cancel()
    assert run.finished
    with pytest.raises(JobFailedError, match="cancelled"):
        run.check("the job")


def test_child_finds_the_package_folder_first_on_its_path(tmp_path):
    run = JobRun(
        start_process(_python("import os; print(os.environ['PYTHONPATH'].split(os.pathsep)[0])")),
        folder=tmp_path,
    )
    run.wait()
    import SegQualityReviewLib

    assert run.process.outcome().last_lines[-1] == str(
        Path(SegQualityReviewLib.__file__).resolve().parents[1]
    )


RESULTS = {
    "config": {"gt_dir": "", "image_dir": "", "models": []},
    "analysis": {
        "families": [
            {
                "structure": "liver",
                "metric": "dice",
                "n_patients": 12,
                "estimates": [
                    {
                        "model": "a",
                        "contaminated": False,
                        "mean": {"estimate": 0.81, "low": 0.75, "high": 0.86},
                    },
                    {
                        "model": "b",
                        "contaminated": False,
                        "mean": {"estimate": 0.90, "low": 0.87, "high": 0.93},
                    },
                ],
                "ranking": {
                    "kendall_tau_mean": 0.92,
                    "models": [
                        {
                            "model": "b",
                            "rank": 1,
                            "rank_low": 1,
                            "rank_high": 1,
                            "p_first": 0.97,
                            "tied_leader": True,
                        },
                        {
                            "model": "a",
                            "rank": 2,
                            "rank_low": 1,
                            "rank_high": 2,
                            "p_first": 0.03,
                            "tied_leader": False,
                        },
                    ],
                },
            }
        ],
        "worst_cases": {"a": [{"case_id": "c7", "structure": "liver", "value": 0.1}], "b": []},
    },
}


def test_summary_rows_follow_the_ranking_with_intervals_and_stability():
    rows = summary_rows(RESULTS)
    assert [row["model"] for row in rows] == ["b", "a"]
    assert rows[0]["ci_low"] == 0.87 and rows[0]["rank_interval"] == "1-1" and rows[0]["kendall_tau"] == 0.92
    assert rows[1]["p_rank_1"] == 0.03 and rows[1]["n_patients"] == 12


def test_worst_cases_and_case_files_by_case_id(tmp_path):
    assert worst_case_rows(RESULTS) == [{"model": "a", "case_id": "c7", "structure": "liver", "value": 0.1}]
    for folder, name in (("gt", "c7.nii.gz"), ("img", "c7.nrrd"), ("a", "c7.seg.nrrd"), ("a", "c70.nii.gz")):
        (tmp_path / folder).mkdir(exist_ok=True)
        (tmp_path / folder / name).write_bytes(b"")
    config = {
        "gt_dir": str(tmp_path / "gt"),
        "image_dir": str(tmp_path / "img"),
        "models": [{"name": "a", "prediction_dir": str(tmp_path / "a")}, {"name": "b", "prediction_dir": ""}],
    }
    found = case_files({"config": config}, "c7")
    assert found == {
        "image": tmp_path / "img" / "c7.nrrd",
        "reference": tmp_path / "gt" / "c7.nii.gz",
        "a": tmp_path / "a" / "c7.seg.nrrd",
    }


def test_the_review_package_finds_case_files_without_loading_the_batch_analysis():
    # The Review tab imports this package without pandas or yaml, which Slicer does not ship.
    code = "import sys, SegQualityReviewLib.review; print(sorted({'pandas', 'yaml'} & set(sys.modules)))"
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"


def test_cancel_and_failure_remove_the_scratch_folder_but_never_the_result_folder(tmp_path):
    scratch, results = tmp_path / "scratch", tmp_path / "results"
    for folder in (scratch, results):
        folder.mkdir()
        (folder / "volume.nii").write_bytes(b"copy")
    running = JobRun(start_process(_python("import time; time.sleep(60)")), folder=results, scratch=scratch)
    running.cancel()
    assert not scratch.exists() and (results / "volume.nii").is_file()

    scratch.mkdir()
    failing = JobRun(start_process(_python("import sys; sys.exit(3)")), folder=scratch, scratch=scratch)
    failing.wait()
    with pytest.raises(JobFailedError, match="exit code 3"):
        failing.check("the job")
    assert not scratch.exists()


def test_a_job_panel_gives_the_button_back_when_its_job_ends_whatever_the_result(tmp_path):
    from types import SimpleNamespace

    from SegQualityReviewLib.review import JobPanel

    button, bar, label = SimpleNamespace(text="Run"), SimpleNamespace(value=0), SimpleNamespace(text="")
    panel = JobPanel(button=button, progress_bar=bar, status_label=label, start_text="Run")
    run = JobRun(
        start_process(_python("print('PROGRESS 0.4 scoring', flush=True); import sys; sys.exit(1)")),
        folder=tmp_path,
    )
    panel.started(run)
    assert panel.running and button.text == "Cancel"
    ended = None
    deadline = time.monotonic() + 30
    while ended is None and time.monotonic() < deadline:
        ended = panel.poll()
        time.sleep(0.02)
    # The panel is idle (button back) before the caller finishes the failed run.
    assert ended is run and not panel.running and button.text == "Run"
    assert bar.value == 40 and label.text == "scoring"
    with pytest.raises(JobFailedError):
        ended.check("the comparison")

    sleeper = JobRun(start_process(_python("import time; time.sleep(60)")), folder=tmp_path)
    panel.started(sleeper)
    panel.cancelled()
    assert sleeper.finished and button.text == "Run" and label.text == "Cancelled"

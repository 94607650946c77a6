"""Progress of a comparison: the callback of run_compare and the `--progress-lines` protocol of the CLI."""

from __future__ import annotations

import shutil

from SegQualityReviewLib.batch.phantom import MODELS
from SegQualityReviewLib.batch.pipeline import cache_folder
from SegQualityReviewLib.cli import main
from SegQualityReviewLib.process import parse_line


def test_progress_rises_once_per_scored_cell_then_analysis_report_and_done(phantom_run):
    fractions = [fraction for fraction, _ in phantom_run.progress]
    messages = [message for _, message in phantom_run.progress]
    n_cells = phantom_run.cohort.n_cases * len(MODELS)
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert all(earlier < later for earlier, later in zip(fractions, fractions[1:]))
    assert messages[: n_cells + 1] == [f"scored {done}/{n_cells} cells" for done in range(n_cells + 1)]
    assert messages[n_cells + 1 :] == ["analysing", "writing the report", "done"]


def test_progress_lines_on_stdout_parse_with_the_worker_protocol(phantom_run, tmp_path, capsys):
    out = tmp_path / "out"
    # The session run's cache makes every cell a cache hit: this checks the lines, not the scoring.
    shutil.copytree(cache_folder(phantom_run.outputs.out_dir), cache_folder(out))
    argv = ["compare", "--config", str(phantom_run.cohort.config_path), "--n-resamples", "200"]
    assert main([*argv, "--workers", "1", "--out", str(out), "--progress-lines"]) == 0
    captured = capsys.readouterr()
    events = [parse_line(line) for line in captured.out.splitlines()]
    assert [event.kind for event in events] == ["progress"] * 4
    assert [event.fraction for event in events] == [0.75, 0.8, 0.9, 1.0]
    assert events[0].message.startswith("scored ") and events[-1].message == "done"
    assert "scoring cells" not in captured.err  # no tqdm bar beside the lines


def test_a_user_error_becomes_one_protocol_error_line(tmp_path, capsys):
    argv = ["compare", "--gt-dir", str(tmp_path / "absent"), "--pred", f"a={tmp_path}", "--workers", "1"]
    assert main([*argv, "--out", str(tmp_path / "out"), "--progress-lines"]) == 2
    events = [parse_line(line) for line in capsys.readouterr().out.splitlines()]
    assert [(event.kind, event.message) for event in events] == [
        ("error", f"{tmp_path / 'absent'}: ground-truth folder not found")
    ]

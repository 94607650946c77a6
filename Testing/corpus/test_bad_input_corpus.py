"""The bad-input corpus: every generated case gives exit 2 with one line naming the file and the problem, or a
correct result, and never changes an input file. Most run the CLI entry point in-process; every
SUBPROCESS_EVERY-th case also runs as a real `python -m SegQualityReviewLib` process and must say the same."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from corpus_batch_cases import compare_result_cases, config_cases
from corpus_cases import (
    Case,
    broken_file_cases,
    geometry_cases,
    label_map_cases,
    seg_nrrd_cases,
    voxel_type_cases,
)
from corpus_cli_cases import (
    analyze_cases,
    argument_cases,
    estimator_command_cases,
    hostile_name_cases,
    output_path_cases,
    reanalyze_cases,
    select_command_cases,
)
from corpus_files import hash_tree

from SegQualityReviewLib.cli import main

CASES: list[Case] = [
    *voxel_type_cases(),
    *broken_file_cases(),
    *geometry_cases(),
    *label_map_cases(),
    *seg_nrrd_cases(),
    *config_cases(),
    *compare_result_cases(),
    *analyze_cases(),
    *reanalyze_cases(),
    *argument_cases(),
    *output_path_cases(),
    *hostile_name_cases(),
    *estimator_command_cases(),
    *select_command_cases(),
]
SUBPROCESS_EVERY = 53


def test_the_corpus_is_large_and_covers_every_command():
    assert len(CASES) >= 300
    assert len({case.id for case in CASES}) == len(CASES)
    commands = {case.command for case in CASES}
    assert commands >= {"score", "compare", "analyze", "reanalyze", "demo", "segment", "models", "estimate", "select",
                        "train-estimator", "eval-estimator", "segquality"}  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input(case: Case, tmp_path, capfd, request):
    folder = tmp_path / "case"
    folder.mkdir()
    shared = request.getfixturevalue("shared_data") if case.needs_shared_data else None
    built = case.build(folder, shared=shared) if case.needs_shared_data else case.build(folder)
    outputs = [folder / name for name in built.outputs]
    inputs_before = hash_tree([folder, *built.extra_inputs], skip=outputs)
    capfd.readouterr()
    try:
        code = main(built.argv)
    except SystemExit as stop:  # argparse: usage errors and --help
        code = stop.code
    captured = capfd.readouterr()
    assert hash_tree([folder, *built.extra_inputs], skip=outputs) == inputs_before, "an input file changed"
    check_outcome(case, built, code, captured.err, captured.out, folder)
    if CASES.index(case) % SUBPROCESS_EVERY == 0:
        for output in outputs:
            _remove(output)
        process = subprocess.run(
            [sys.executable, "-m", "SegQualityReviewLib", *built.argv],
            capture_output=True,
            text=True,
            cwd=folder,
            timeout=600,
        )
        assert hash_tree([folder, *built.extra_inputs], skip=outputs) == inputs_before
        check_outcome(case, built, process.returncode, process.stderr, process.stdout, folder)


def check_outcome(case: Case, built, code, stderr: str, stdout: str, folder: Path) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    expected_code = 2 if built.exit_code is None else built.exit_code
    if built.errors:
        assert code == expected_code, (code, stderr)
        if expected_code == 2:
            assert len(lines) == 1, f"expected one line, got: {stderr!r}"
            line = lines[0]
            assert line.startswith(f"segquality {case.command}: error: ") or case.command == "segquality", (
                line
            )
        else:
            line = stderr
        for expected in built.errors:
            assert expected.replace("\n", "\\n") in line, (expected, line)
        for unexpected in built.forbidden:
            assert unexpected not in line, (unexpected, line)
        assert "Traceback" not in stderr
    else:
        assert code == 0, f"exit {code}: {stderr}"
        assert "Traceback" not in stderr
        built.check(folder, stdout + stderr)


def _remove(path: Path) -> None:
    import shutil

    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
    for sibling in path.parent.glob(f".{path.name}.*"):
        shutil.rmtree(sibling) if sibling.is_dir() else sibling.unlink()

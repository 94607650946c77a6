"""The output folder swap on every platform path, and what the next run does with what a killed run left."""

from __future__ import annotations

import pytest

from SegQualityReviewLib.errors import OutputPathError
from SegQualityReviewLib.io import outputs
from SegQualityReviewLib.io.outputs import atomic_file, replaced_folder

OWNED = ("results.json", "report.html")


def write_run(folder, text):
    (folder / "results.json").write_text(text, encoding="utf-8")
    (folder / "report.html").write_text(f"<html>{text}</html>", encoding="utf-8")


@pytest.mark.parametrize("atomic_exchange", [True, False], ids=["renameat2-exchange", "two-renames"])
def test_the_new_run_replaces_the_old_one_whole(tmp_path, monkeypatch, atomic_exchange):
    if not atomic_exchange:
        monkeypatch.setattr(outputs, "_exchange", lambda first, second: False)
    out = tmp_path / "out"
    with replaced_folder(out, owned_names=OWNED) as staging:
        write_run(staging, "first")
    with replaced_folder(out, owned_names=OWNED) as staging:
        assert (out / "results.json").read_text(encoding="utf-8") == "first"  # untouched while staging
        write_run(staging, "second")
    assert (out / "results.json").read_text(encoding="utf-8") == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging or set-aside folder left


def test_a_failed_run_leaves_the_previous_one_and_no_staging_folder(tmp_path):
    out = tmp_path / "out"
    with replaced_folder(out, owned_names=OWNED) as staging:
        write_run(staging, "first")
    with pytest.raises(RuntimeError), replaced_folder(out, owned_names=OWNED) as staging:
        write_run(staging, "half")
        raise RuntimeError("the report crashed")
    assert (out / "results.json").read_text(encoding="utf-8") == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_what_a_killed_run_left_is_undone_by_the_next_one(tmp_path):
    out = tmp_path / "out"
    dead_pid = 2**22 + 12345  # above Linux's pid_max default: no such process
    # Killed between the two renames: the previous run set aside, OUT missing; and a staging folder.
    previous = tmp_path / f".out.previous-{dead_pid}"
    previous.mkdir()
    write_run(previous, "previous")
    staging = tmp_path / f".out.partial-{dead_pid}-abcd"
    staging.mkdir()
    (staging / "results.json").write_text("half", encoding="utf-8")
    with replaced_folder(out, owned_names=OWNED) as new:
        assert (out / "results.json").read_text(encoding="utf-8") == "previous"  # put back first
        assert not staging.exists()
        write_run(new, "next")
    assert (out / "results.json").read_text(encoding="utf-8") == "next"


def test_a_folder_holding_other_files_is_refused_not_emptied(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(OutputPathError, match="holds 'notes.txt', which no earlier run wrote"):
        with replaced_folder(out, owned_names=OWNED):
            pass
    assert (out / "notes.txt").read_text(encoding="utf-8") == "keep me"


def test_an_atomic_file_appears_whole_or_not_at_all(tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text("old", encoding="utf-8")
    with pytest.raises(KeyboardInterrupt), atomic_file(path) as handle:
        handle.write("new, half")
        raise KeyboardInterrupt
    assert path.read_text(encoding="utf-8") == "old" and [p.name for p in tmp_path.iterdir()] == [
        "scores.csv"
    ]
    with atomic_file(path) as handle:
        handle.write("new")
    assert path.read_text(encoding="utf-8") == "new"

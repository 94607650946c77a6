"""Corpus cases of the other commands: analyze tables, reanalyze results, arguments, output paths,
hostile file names, and the estimator, segmenter and demo commands."""

from __future__ import annotations

import atexit
import csv
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
from corpus_batch_cases import write_cohort
from corpus_cases import Built, Case, perfect_scores, score
from corpus_files import reference_labels, write_label_map, write_labels, write_volume

# ---------------------------------------------------------------- analyze: score tables

TABLE_COLUMNS = ["case_id", "patient_id", "model", "structure", "metric", "value", "status"]


def table_rows() -> list[dict[str, str]]:
    rows = []
    for patient in range(4):
        for model, offset in (("a", 0.0), ("b", 0.05)):
            value = 0.7 + 0.05 * patient + offset
            rows.append({"case_id": f"c{patient}", "patient_id": f"p{patient}", "model": model,
                         "structure": "liver", "metric": "dice", "value": repr(value), "status": "ok"})  # fmt: skip
    return rows


def write_table(
    path: Path, rows: list[dict[str, str]] | None = None, *, columns=None, raw: str | bytes | None = None
):
    path.parent.mkdir(parents=True, exist_ok=True)
    if raw is not None:
        path.write_bytes(raw if isinstance(raw, bytes) else raw.encode("utf-8"))
        return path
    rows = table_rows() if rows is None else rows
    columns = columns or TABLE_COLUMNS
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def analyze(folder: Path, table: Path, *extra: str) -> list[str]:
    return ["analyze", "--scores", str(table), "--n-resamples", "100", *extra, "--out", str(folder / "out")]


def table_case(edit: Callable[[list[dict]], list[dict]] | None, messages, *, columns=None, raw=None):
    def build(folder):
        rows = edit(table_rows()) if edit else None
        table = write_table(folder / "scores.csv", rows, columns=columns, raw=raw)
        return Built(analyze(folder, table), errors=(str(table), *messages))

    return build


def _with(index: int, **changes):
    def edit(rows):
        rows[index].update(changes)
        return rows

    return edit


def analyze_cases() -> list[Case]:
    cases = []
    for column in ("case_id", "patient_id", "model", "structure", "metric", "value"):
        cases.append(Case(f"analyze-no-{column}", "analyze",
                          table_case(None, (f"needs a '{column}' column",),
                                     columns=[c for c in TABLE_COLUMNS if c != column])))  # fmt: skip
    errors = {
        "value-text": (_with(0, value="abc"), ("non-numeric",)),
        "unknown-status": (_with(0, status="great"), ("unknown status 'great'",)),
        "blank-case": (_with(2, case_id=" "), ("row 4 has no case_id",)),
        "blank-model": (_with(1, model=""), ("row 3 has no model",)),
        "duplicate-row": (lambda rows: rows + [rows[0]], ("appears twice",)),
        "two-patients": (_with(1, patient_id="p9"), ("case 'c0' is given two patient ids",)),
    }
    for name, (edit, messages) in errors.items():
        cases.append(Case(f"analyze-{name}", "analyze", table_case(edit, messages)))
    raw_errors = {
        "empty-file": ("", ("not a readable CSV score table",)),
        "binary": (b"\x00\x01\xfe\xff" * 50, ("",)),
        "unknown-failure-mode": (
            "case_id,patient_id,model,structure,metric,value,failure_mode\nc0,p0,a,l,dice,0.5,oops\n",
            ("unknown failure_mode 'oops'",),
        ),
    }
    for name, (raw, messages) in raw_errors.items():
        cases.append(Case(f"analyze-{name}", "analyze", table_case(None, messages, raw=raw)))

    def missing(folder):
        return Built(
            analyze(folder, folder / "absent.csv"),
            errors=(str(folder / "absent.csv"), "score table not found"),
        )

    def a_folder(folder):
        (folder / "scores.csv").mkdir()
        return Built(
            analyze(folder, folder / "scores.csv"),
            errors=(str(folder / "scores.csv"), "score table not found"),
        )

    def unknown_metric_asked(folder):
        table = write_table(folder / "scores.csv")
        return Built(analyze(folder, table, "--metrics", "hd95"), errors=("hd95",))

    def minimal_table_works(folder):
        table = write_table(folder / "scores.csv", columns=TABLE_COLUMNS[:6])

        def check(folder, stderr):
            results = json.loads((folder / "out" / "results.json").read_text(encoding="utf-8"))
            assert results["analysis"]["models"] == ["a", "b"] and results["analysis"]["n_patients"] == 4
            [family] = results["analysis"]["families"]
            assert family["ranking"]["models"][0]["model"] == "b"  # b is better by 0.05 on every patient

        return Built(analyze(folder, table), check=check)

    def hostile_table_values(folder):
        rows = table_rows()
        for row in rows:
            row["model"] = {"a": "<script>x</script>", "b": 'b "quoted", with comma'}[row["model"]]
            row["case_id"] = row["case_id"] + "\nline two"
        table = write_table(folder / "scores.csv", rows)

        def check(folder, stderr):
            report = (folder / "out" / "report.html").read_text(encoding="utf-8")
            assert "<script>x</script>" not in report and "&lt;script&gt;x&lt;/script&gt;" in report

        return Built(analyze(folder, table), check=check)

    def failed_rows_without_values(folder):
        rows = table_rows()
        rows[0].update(value="", status="failed")
        table = write_table(folder / "scores.csv", rows)

        def check(folder, stderr):
            results = json.loads((folder / "out" / "results.json").read_text(encoding="utf-8"))
            assert results["analysis"]["imputation"]["a"]["imputed_cells"] == 1

        return Built(analyze(folder, table), check=check)

    for name, build in (("missing", missing), ("a-folder", a_folder), ("metric-not-in-table", unknown_metric_asked),
                        ("minimal-table", minimal_table_works), ("hostile-values", hostile_table_values),
                        ("failed-without-value", failed_rows_without_values)):  # fmt: skip
        cases.append(Case(f"analyze-{name}", "analyze", build))
    return cases


# ---------------------------------------------------------------- reanalyze: results.json

_TEMPLATE: dict[str, Path] = {}


def compare_run_template() -> Path:
    """A finished tiny comparison (one missing prediction, so one imputed cell), built once per session."""
    if "root" not in _TEMPLATE:
        from dataclasses import replace

        from SegQualityReviewLib.batch import load_config, run_compare

        root = Path(tempfile.mkdtemp(prefix="segquality-corpus-"))
        atexit.register(shutil.rmtree, root, True)
        config = write_cohort(root / "inputs")
        (root / "inputs" / "pred" / "b" / "case1.nii.gz").unlink()
        import yaml

        (root / "inputs" / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
        loaded = load_config(root / "inputs" / "config.yaml", workers=1)
        loaded = replace(loaded, analysis=replace(loaded.analysis, n_resamples=100))
        run_compare(loaded, root / "run", progress=False)
        _TEMPLATE["root"] = root
    return _TEMPLATE["root"]


def results_case(
    edit: Callable[[dict, Path], None] | None, *, exit_code: int, messages, raw=None, table=None
):
    def build(folder):
        template = compare_run_template()
        run = folder / "run"
        shutil.copytree(template / "run", run)
        results_path = run / "results.json"
        if raw is not None:
            results_path.write_bytes(raw if isinstance(raw, bytes) else raw.encode("utf-8"))
        elif edit is not None:
            content = json.loads(results_path.read_text(encoding="utf-8"))
            edit(content, folder)
            results_path.write_text(json.dumps(content), encoding="utf-8")
        if table is not None:
            (run / "cases.csv").write_bytes(table)
        return Built(["reanalyze", str(results_path)], errors=tuple(messages), exit_code=exit_code, outputs=(),
                     extra_inputs=(template / "inputs",))  # fmt: skip

    return build


def _edit_config_nsd(content, folder):
    content["config"]["scoring"]["nsd_tolerance_mm"] = 5.0


def _zero_file_hashes(content, folder):
    content["file_hashes"] = {path: "0" * 64 for path in content["file_hashes"]}


def _empty_file_hashes(content, folder):
    content["file_hashes"] = {}


def _change_config_hash(content, folder):
    content["config_hash"] = "f" * 64


def _empty_imputed_notes(content, folder):
    content["run_notes"]["imputed_cells"] = []


def _extra_imputed_note(content, folder):
    content["run_notes"]["imputed_cells"].append({"case_id": "case0", "model": "a", "note": "made up"})


def _change_a_number(content, folder):
    content["analysis"]["families"][0]["estimates"][0]["mean"]["estimate"] += 0.01


def _move_inputs(content, folder):
    content["file_hashes"] = {
        str(folder / "elsewhere" / Path(p).name): h for p, h in content["file_hashes"].items()
    }


def _drop_analysis_settings(content, folder):
    del content["config"]["analysis"]


def _bad_setting(content, folder):
    content["config"]["analysis"]["n_resamples"] = "many"


def reanalyze_cases() -> list[Case]:
    cases = [
        Case("reanalyze-untouched", "reanalyze", results_case(None, exit_code=0, messages=("every number reproduced",))),
        Case("reanalyze-inputs-absent", "reanalyze",
             results_case(_move_inputs, exit_code=0, messages=("recorded input file(s) are not here", "elsewhere"))),
    ]  # fmt: skip
    differing = {
        "edited-nsd-tolerance": (_edit_config_nsd, "config_hash"),
        "zeroed-file-hashes": (_zero_file_hashes, "file_hashes["),
        "emptied-file-hashes": (_empty_file_hashes, "file_hashes (case 'case0')"),
        "changed-config-hash": (_change_config_hash, "config_hash"),
        "emptied-imputed-notes": (_empty_imputed_notes, "run_notes.imputed_cells (case 'case1', model 'b')"),
        "invented-imputed-note": (_extra_imputed_note, "run_notes.imputed_cells (case 'case0', model 'a')"),
        "changed-number": (_change_a_number, "analysis.families[0].estimates[0].mean.estimate"),
    }
    for name, (edit, message) in differing.items():
        cases.append(
            Case(
                f"reanalyze-{name}",
                "reanalyze",
                results_case(edit, exit_code=1, messages=(message, "differ")),
            )
        )
    errors = {
        "not-json": (None, "{not json", "not a readable JSON results file"),
        "a-list": (None, "[]", "not a results file of schema"),
        "other-schema": (None, '{"schema": "other/9"}', "not a results file of schema"),
        "no-analysis-settings": (_drop_analysis_settings, None, "holds no config.analysis settings"),
        "bad-setting": (_bad_setting, None, "config.analysis: a recorded setting is malformed"),
        "binary": (None, b"\xff\xfe\x00", "not a readable JSON results file"),
    }
    for name, (edit, raw, message) in errors.items():
        cases.append(
            Case(
                f"reanalyze-{name}",
                "reanalyze",
                results_case(edit, exit_code=2, messages=(message,), raw=raw),
            )
        )
    cases.append(Case("reanalyze-table-garbage", "reanalyze",
                      results_case(None, exit_code=2, messages=("cases.csv",), table=b"\x00\x00garbage")))  # fmt: skip

    def missing(folder):
        return Built(["reanalyze", str(folder / "results.json")], errors=(str(folder / "results.json"), "results file not found"),
                     outputs=())  # fmt: skip

    def table_missing(folder):
        template = compare_run_template()
        shutil.copytree(template / "run", folder / "run")
        (folder / "run" / "cases.csv").unlink()
        return Built(["reanalyze", str(folder / "run" / "results.json")], errors=("cases.csv", "score table not found"),
                     outputs=(), extra_inputs=(template / "inputs",))  # fmt: skip

    cases += [
        Case("reanalyze-missing", "reanalyze", missing),
        Case("reanalyze-table-missing", "reanalyze", table_missing),
    ]
    return cases


# ---------------------------------------------------------------- command-line arguments

ARGUMENT_ERRORS = [
    ("segquality", [], ("the following arguments are required: COMMAND",)),
    ("segquality", ["scores"], ("invalid choice: 'scores'",)),
    ("score", ["score", "--pred", "p.nii.gz"], ("the following arguments are required: --gt, --out",)),
    (
        "segquality",
        ["score", "--pred", "p", "--gt", "g", "--out", "o", "--bogus"],
        ("unrecognized arguments: --bogus",),
    ),
    (
        "score",
        ["score", "--pred", "p", "--gt", "g", "--out", "o", "--surface", "mesh"],
        ("argument --surface: invalid choice: 'mesh'",),
    ),
    ("score", ["score", "--pred", "p", "--gt", "g", "--out", "o", "--device", "gpu"], ("argument --device",)),
    (
        "estimate",
        ["estimate", "--image", "i", "--seg", "s", "--out", "o", "--modality", "PET"],
        ("argument --modality",),
    ),
    ("compare", ["compare", "--out", "o"], ("give --config, or --gt-dir and at least one --pred NAME=DIR",)),
    (
        "compare",
        ["compare", "--gt-dir", "g", "--pred", "nameonly", "--out", "o"],
        ("--pred 'nameonly': expected NAME=VALUE",),
    ),
    (
        "compare",
        ["compare", "--gt-dir", "g", "--pred", "=dir", "--out", "o"],
        ("--pred '=dir': expected NAME=VALUE",),
    ),
    (
        "compare",
        ["compare", "--gt-dir", "g", "--pred", "a=d", "--pred-labels", "b=l.json", "--out", "o"],
        ("--pred-labels names 'b', which no --pred gives",),
    ),
    (
        "compare",
        ["compare", "--config", "c.yaml", "--gt-dir", "g", "--out", "o"],
        ("either in --config or as flags",),
    ),
    (
        "compare",
        ["compare", "--gt-dir", "g", "--pred", "a=d", "--pred", "a=e", "--out", "o"],
        ("model name 'a' is given twice",),
    ),
    (
        "compare",
        ["compare", "--gt-dir", "g", "--pred", "a=d", "--equivalence-margin", "dice=abc", "--out", "o"],
        ("--equivalence-margin 'dice=abc': the margin is not a number",),
    ),
    (
        "compare",
        ["compare", "--gt-dir", "g", "--pred", "a=d", "--equivalence-margin", "dice", "--out", "o"],
        ("--equivalence-margin 'dice': expected NAME=VALUE",),
    ),
    (
        "compare",
        ["compare", "--gt-dir", "g", "--pred", "a=d", "--equivalence-margin", "dice=-1", "--out", "o"],
        ("equivalence margin for 'dice' must be a positive number",),
    ),
    (
        "compare",
        ["compare", "--gt-dir", "g", "--pred", "a=d", "--equivalence-margin", "dice=nan", "--out", "o"],
        ("equivalence margin for 'dice'",),
    ),
    (
        "compare",
        ["compare", "--gt-dir", "g", "--pred", "a=d", "--model-card", "b=c.yaml", "--out", "o"],
        ("c.yaml",),
    ),
    (
        "compare",
        ["compare", "--gt-dir", "g", "--pred", "a=d", "--seed", "-1", "--out", "o"],
        ("analysis.seed", "at least 0"),
    ),
    ("reanalyze", ["reanalyze"], ("the following arguments are required: results",)),
    (
        "train-estimator",
        ["train-estimator", "--out", "w.safetensors", "--report", "r"],
        ("one of the arguments --shared-data --cases is required",),
    ),
    (
        "eval-estimator",
        ["eval-estimator", "--report", "r", "--cases", "a.json", "--shared-data", "s"],
        ("not allowed with argument",),
    ),
]
NUMBER_OPTIONS = [
    ("estimate", ["estimate", "--image", "i", "--seg", "s", "--out", "o"], "--threshold",
     {"nan": "not a finite number", "2": "not a number from 0 to 1", "-0.1": "not a number from 0 to 1",
      "abc": "not a number", "inf": "not a finite number", "1e400": "not a finite number"}),
    ("eval-estimator", ["eval-estimator", "--cases", "c.json", "--report", "r"], "--threshold",
     {"nan": "not a finite number", "1.5": "not a number from 0 to 1"}),
    ("score", ["score", "--pred", "p", "--gt", "g", "--out", "o"], "--nsd-tolerance",
     {"0": "not a number above 0", "-1": "not a number above 0", "nan": "not a finite number",
      "inf": "not a finite number", "abc": "not a number"}),
    ("compare", ["compare", "--gt-dir", "g", "--pred", "a=d", "--out", "o"], "--nsd-tolerance",
     {"0": "not a number above 0", "nan": "not a finite number"}),
    ("compare", ["compare", "--gt-dir", "g", "--pred", "a=d", "--out", "o"], "--workers",
     {"0": "not 1 or more", "-2": "not 1 or more", "two": "not a whole number"}),
    ("compare", ["compare", "--gt-dir", "g", "--pred", "a=d", "--out", "o"], "--level",
     {"2": "not a number from 0 to 1", "nan": "not a finite number"}),
    ("compare", ["compare", "--gt-dir", "g", "--pred", "a=d", "--out", "o"], "--n-resamples",
     {"0": "not 1 or more", "many": "not a whole number"}),
    ("compare", ["compare", "--gt-dir", "g", "--pred", "a=d", "--out", "o"], "--worst-k", {"0": "not 1 or more"}),
    ("analyze", ["analyze", "--scores", "s.csv", "--out", "o"], "--level", {"1.5": "not a number from 0 to 1"}),
    ("reanalyze", ["reanalyze", "r.json"], "--tolerance", {"-1": "not 0 or more", "nan": "not a finite number"}),
]  # fmt: skip


def argument_cases() -> list[Case]:
    cases = []
    for index, (command, argv, messages) in enumerate(ARGUMENT_ERRORS):
        cases.append(Case(f"args-{command}-{index}", command, _in_folder(argv, messages)))
    for command, argv, option, values in NUMBER_OPTIONS:
        for value, message in values.items():
            cases.append(
                Case(
                    f"args-{command}{option}={value}",
                    command,
                    _in_folder([*argv, option, value], (option, message)),
                )
            )

    def level_out_of_analysis_range(folder):
        table = write_table(folder / "scores.csv")
        return Built(
            analyze(folder, table, "--level", "0.3"), errors=("analysis.confidence_level", "above 0.5")
        )

    def resamples_too_few(folder):
        table = write_table(folder / "scores.csv")
        return Built(
            analyze(folder, table, "--n-resamples", "50"), errors=("analysis.n_resamples", "at least 100")
        )

    cases += [Case("args-analyze-level-0.3", "analyze", level_out_of_analysis_range),
              Case("args-analyze-resamples-50", "analyze", resamples_too_few)]  # fmt: skip
    return cases


def _in_folder(argv: list[str], messages) -> Callable[[Path], Built]:
    """Arguments that fail before any file is read (relative names resolve in the case folder)."""

    def build(folder):
        return Built([str(folder / a) if a in ("c.yaml", "c.json", "s.csv", "r.json") else a for a in argv],
                     errors=tuple(messages))  # fmt: skip

    return build


# ---------------------------------------------------------------- outputs that are inputs, or cannot be written


def output_path_cases() -> list[Case]:
    cases = []

    def score_files(folder):
        gt = write_labels(folder / "gt.nii.gz")
        pred = write_labels(folder / "pred.nii.gz")
        maps = write_label_map(folder / "labels.json")
        return gt, pred, maps

    def score_out(target: str, messages):
        def build(folder):
            gt, pred, maps = score_files(folder)
            paths = {"pred": pred, "gt": gt, "labels": maps}
            if target == "symlink":
                os.symlink(pred, folder / "link.nii.gz")
                out = folder / "link.nii.gz"
            elif target == "hardlink":
                os.link(gt, folder / "hard.csv")
                out = folder / "hard.csv"
            elif target == "relative":
                out = Path(os.path.relpath(pred))
            elif target == "dotted":
                out = folder / "sub" / ".." / "pred.nii.gz"
            elif target == "folder":
                (folder / "results").mkdir()
                out = folder / "results"
            elif target == "under-a-file":
                out = folder / "gt.nii.gz" / "out.csv"
            elif target == "proc":
                out = Path("/proc/segquality/out.csv")
            else:
                out = paths[target]
            argv = ["score", "--pred", str(pred), "--gt", str(gt), "--pred-labels", str(maps), "--gt-labels",
                    str(maps), "--out", str(out)]  # fmt: skip
            return Built(argv, errors=(f"--out {out}", *messages), outputs=())

        return build

    for target, messages in (
        ("pred", ("is the input --pred", "would destroy")),
        ("gt", ("is the input --gt",)),
        ("labels", ("is the input --pred-labels",)),
        ("symlink", ("is the input --pred",)),
        ("hardlink", ("is the input --gt",)),
        ("relative", ("is the input --pred",)),
        ("dotted", ("is the input --pred",)),
        ("folder", ("is a folder",)),
        ("under-a-file", ("is a file, not a folder",)),
        ("proc", ("cannot write in /proc",)),
    ):
        cases.append(Case(f"output-score-{target}", "score", score_out(target, messages)))

    def estimate_out(target, option, messages):
        def build(folder):
            image = write_volume(folder / "image.nii.gz")
            seg = write_labels(folder / "seg.nii.gz")
            other = write_labels(folder / "other.nii.gz")
            maps = write_label_map(folder / "labels.json")
            paths = {"image": image, "seg": seg, "other": other, "labels": maps, "out": folder / "q.csv"}
            argv = [
                "estimate",
                "--image",
                str(image),
                "--seg",
                str(seg),
                "--labels",
                str(maps),
                "--other-seg",
                str(other),
            ]
            if option == "--slices-out":
                argv += ["--out", str(folder / "q.csv"), "--slices-out", str(paths[target])]
            else:
                argv += ["--out", str(paths[target] if target in paths else Path("/proc/x.csv"))]
            return Built(argv, errors=(option, *messages), outputs=())

        return build

    for target, option, messages in (
        ("image", "--out", ("is the input --image",)),
        ("seg", "--out", ("is the input --seg",)),
        ("other", "--out", ("is the input --other-seg",)),
        ("labels", "--out", ("is the input --labels",)),
        ("proc", "--out", ("cannot write in /proc",)),
        ("image", "--slices-out", ("is the input --image",)),
        ("out", "--slices-out", ("is the input --out",)),
    ):
        cases.append(
            Case(f"output-estimate{option}-{target}", "estimate", estimate_out(target, option, messages))
        )

    def compare_out(target, messages):
        def build(folder):
            config = write_cohort(folder / "study")
            import yaml

            path = folder / "study" / "config.yaml"
            path.write_text(yaml.safe_dump(config), encoding="utf-8")
            out = {
                "gt": folder / "study" / "gt",
                "pred": folder / "study" / "pred" / "a",
                "parent-of-inputs": folder / "study",
                "config": path,
                "labels": folder / "study" / "labels.json",
            }.get(target)
            if target == "symlink":
                os.symlink(folder / "study" / "gt", folder / "link")
                out = folder / "link"
            if target == "foreign-files":
                out = folder / "mine"
                out.mkdir()
                (out / "notes.txt").write_text("my notes", encoding="utf-8")
            argv = ["compare", "--config", str(path), "--workers", "1", "--no-progress", "--out", str(out)]
            return Built(argv, errors=(str(out), *messages), outputs=())

        return build

    for target, messages in (
        ("gt", ("is the input ground_truth.dir",)),
        ("pred", ("is the input models[0].dir",)),
        ("parent-of-inputs", ("holds the input", "replaced as a whole")),
        ("config", ("is the input config", "would destroy")),
        ("labels", ("is the input ground_truth.label_map",)),
        ("symlink", ("is the input ground_truth.dir",)),
        ("foreign-files", ("holds 'notes.txt', which no earlier run wrote",)),
    ):
        cases.append(Case(f"output-compare-{target}", "compare", compare_out(target, messages)))

    def analyze_out_holds_table(folder):
        table = write_table(folder / "runs" / "scores.csv")
        return Built(["analyze", "--scores", str(table), "--out", str(folder / "runs")],
                     errors=(str(folder / "runs"), "holds the input score table"), outputs=())  # fmt: skip

    def analyze_out_is_table(folder):
        table = write_table(folder / "scores.csv")
        return Built(
            ["analyze", "--scores", str(table), "--out", str(table)],
            errors=("is the input score table",),
            outputs=(),
        )

    def analyze_rerun_over_own_output(folder):
        table = write_table(folder / "scores.csv")
        out = folder / "out"
        out.mkdir()
        (out / "cases.csv").write_text("an earlier run's table", encoding="utf-8")

        def check(folder, stderr):
            assert (out / "cases.csv").read_text(encoding="utf-8").startswith("case_id,")
            assert sorted(p.name for p in out.iterdir()) == ["cases.csv", "report.html", "results.json"]

        return Built(analyze(folder, table), check=check)

    def demo_out_is_shared_data(folder, *, shared):
        return Built(["demo", "--out", str(shared), "--shared-data", str(shared), "--no-progress"],
                     errors=(f"--out {shared}", "is the input --shared-data"), outputs=(), extra_inputs=(shared / "manifest.json",))  # fmt: skip

    def demo_out_holds_shared_data(folder, *, shared):
        return Built(["demo", "--out", str(shared.parent), "--shared-data", str(shared), "--no-progress"],
                     errors=("holds the input --shared-data",), outputs=(), extra_inputs=(shared / "manifest.json",))  # fmt: skip

    def demo_out_a_file(folder):
        (folder / "demo").write_text("x", encoding="utf-8")
        return Built(
            ["demo", "--out", str(folder / "demo"), "--synthetic-only"],
            errors=("exists and is a file",),
            outputs=(),
        )

    def segment_out_is_image(folder):
        image = write_volume(folder / "image.nii.gz")
        return Built(["segment", "--image", str(image), "--model", "classical-ct", "--out", str(image)],
                     errors=("is the input --image",), outputs=())  # fmt: skip

    def segment_labels_over_input(folder):
        image = write_volume(folder / "ct.nii.gz")
        write_label_map(folder / "seg.labels.json")
        return Built(["segment", "--image", str(image), "--model", "masks:" + str(folder / "seg.labels.json"),
                      "--out", str(folder / "seg.nii.gz")], errors=("--out's label map", "is the input --model"), outputs=())  # fmt: skip

    def train_out_is_cases(folder):
        cases_file = folder / "cases.json"
        cases_file.write_text("[]", encoding="utf-8")
        return Built(["train-estimator", "--cases", str(cases_file), "--out", str(cases_file),
                      "--report", str(folder / "report")], errors=("is the input --cases",), outputs=())  # fmt: skip

    def eval_report_holds_weights(folder):
        (folder / "report").mkdir()
        weights = folder / "report" / "w.safetensors"
        weights.write_bytes(b"weights")
        cases_file = folder / "cases.json"
        cases_file.write_text("[]", encoding="utf-8")
        return Built(["eval-estimator", "--cases", str(cases_file), "--weights", str(weights), "--report",
                      str(folder / "report")], errors=("holds the input --weights",), outputs=())  # fmt: skip

    for name, command, build, shared in (
        ("analyze-out-holds-table", "analyze", analyze_out_holds_table, False),
        ("analyze-out-is-table", "analyze", analyze_out_is_table, False),
        ("analyze-rerun-over-own-output", "analyze", analyze_rerun_over_own_output, False),
        ("demo-out-is-shared-data", "demo", demo_out_is_shared_data, True),
        ("demo-out-holds-shared-data", "demo", demo_out_holds_shared_data, True),
        ("demo-out-a-file", "demo", demo_out_a_file, False),
        ("segment-out-is-image", "segment", segment_out_is_image, False),
        ("segment-labels-over-input", "segment", segment_labels_over_input, False),
        ("train-out-is-cases", "train-estimator", train_out_is_cases, False),
        ("eval-report-holds-weights", "eval-estimator", eval_report_holds_weights, False),
    ):
        cases.append(Case(f"output-{name}", command, build, needs_shared_data=shared))
    return cases


# ---------------------------------------------------------------- hostile file names

HOSTILE_NAMES = {
    "spaces": "my prediction (v2).nii.gz",
    "unicode": "pr\u00e9diction \u80be\u810f.nii.gz",
    "quotes": 'it\'s a "pred".nii.gz',
    "shell": "$(rm -rf ~); `x` & y | z.nii.gz",
    "newline": "two\nlines.nii.gz",
    "leading-dash": "-x.nii.gz",
    "percent-braces": "%s {0} %(x)s.nii.gz",
    "long": "p" * 200 + ".nii.gz",
    "html": "<b onmouseover=alert(1)>x.nii.gz",
}


def hostile_name_cases() -> list[Case]:
    cases = []
    for name, file_name in HOSTILE_NAMES.items():

        def ok(folder, file_name=file_name):
            gt = write_labels(folder / "gt.nii.gz")
            pred = write_labels(folder / file_name)
            return Built(score(folder, pred, gt), check=perfect_scores("label_1", "label_2"))

        def missing(folder, file_name=file_name):
            gt = write_labels(folder / "gt.nii.gz")
            return Built(
                score(folder, folder / file_name, gt), errors=(str(folder / file_name), "file not found")
            )

        def broken(folder, file_name=file_name):
            gt = write_labels(folder / "gt.nii.gz")
            bad = folder / file_name
            bad.write_text("not an image", encoding="utf-8")
            return Built(score(folder, bad, gt), errors=(str(bad), "not a readable image"))

        cases += [Case(f"name-{name}-scores", "score", ok), Case(f"name-{name}-missing", "score", missing),
                  Case(f"name-{name}-unreadable", "score", broken)]  # fmt: skip

    def hostile_output_name(folder):
        gt = write_labels(folder / "gt.nii.gz")
        out = folder / "r\u00e9sultats 'v2'" / "scores; $(x).csv"
        argv = score(folder, gt, gt)[:-1] + [str(out)]

        def check(folder, output):
            (folder / "out.csv").write_bytes(out.read_bytes())
            perfect_scores("label_1", "label_2")(folder, output)

        return Built(argv, check=check, outputs=("out.csv", out.parent.name))

    cases.append(Case("name-output", "score", hostile_output_name))
    return cases


# ---------------------------------------------------------------- estimator, segmenter, models, demo


def estimator_command_cases() -> list[Case]:
    cases = []

    def estimate_works(folder):
        image = write_volume(folder / "image.nii.gz")
        labels = np.zeros_like(reference_labels())
        labels[1:5, 1:6, 1:7] = 1
        seg = write_labels(folder / "seg.nii.gz", labels)
        maps = write_label_map(folder / "labels.json", {"1": "liver"})

        def check(folder, stderr):
            with open(folder / "out.csv", newline="", encoding="utf-8") as handle:
                [row] = list(csv.DictReader(handle))
            assert row["structure"] == "liver" and 0.0 <= float(row["predicted_dice"]) <= 1.0
            assert row["flagged"] in ("True", "False") and (folder / "out.slices.json").is_file()

        return Built(["estimate", "--image", str(image), "--seg", str(seg), "--labels", str(maps), "--device", "cpu",
                      "--threads", "1", "--out", str(folder / "out.csv")], check=check)  # fmt: skip

    def case_list(raw: str):
        def build(folder):
            path = folder / "cases.json"
            path.write_text(raw, encoding="utf-8")
            return path

        return build

    training_errors = {
        "cases-missing": (None, ("case list not found",)),
        "cases-not-json": ("{oops", ("not a readable JSON case list",)),
        "cases-not-a-list": ('{"a": 1}', ("expected a JSON list of cases",)),
    }
    for command in ("train-estimator", "eval-estimator"):
        for name, (raw, messages) in training_errors.items():

            def build(folder, raw=raw, messages=messages, command=command):
                path = folder / "cases.json"
                if raw is not None:
                    path.write_text(raw, encoding="utf-8")
                argv = [command, "--cases", str(path), "--report", str(folder / "out")]
                if command == "train-estimator":
                    argv += ["--out", str(folder / "out.csv")]
                return Built(argv, errors=(str(path), *messages))

            cases.append(Case(f"{command}-{name}", command, build))

    def negative_head_epochs(folder):
        path = folder / "cases.json"
        path.write_text("[]", encoding="utf-8")
        return Built(["train-estimator", "--cases", str(path), "--head-epochs", "-1", "--out", str(folder / "out.safetensors"),
                      "--report", str(folder / "out")], errors=("--head-epochs", "-1"))  # fmt: skip

    def eval_weights_missing(folder):
        path = folder / "cases.json"
        path.write_text("[]", encoding="utf-8")
        absent = folder / "absent.safetensors"
        return Built(["eval-estimator", "--cases", str(path), "--weights", str(absent), "--report", str(folder / "out")],
                     errors=(str(absent), "estimator weights not found"))  # fmt: skip

    def eval_weights_garbage(folder):
        path = folder / "cases.json"
        path.write_text("[]", encoding="utf-8")
        weights = folder / "w.safetensors"
        weights.write_bytes(b"\x00" * 64)
        return Built(["eval-estimator", "--cases", str(path), "--weights", str(weights), "--report", str(folder / "out")],
                     errors=(str(weights), "not a readable safetensors file"))  # fmt: skip

    def estimate_weights_missing(folder):
        image = write_volume(folder / "image.nii.gz")
        seg = write_labels(folder / "seg.nii.gz")
        absent = folder / "absent.safetensors"
        return Built(["estimate", "--image", str(image), "--seg", str(seg), "--weights", str(absent), "--out",
                      str(folder / "out.csv")], errors=(str(absent), "estimator weights not found"))  # fmt: skip

    def segment_image_missing(folder):
        return Built(["segment", "--image", str(folder / "ct.nii.gz"), "--model", "classical-ct", "--out",
                      str(folder / "out.nii.gz")], errors=(str(folder / "ct.nii.gz"), "file not found"))  # fmt: skip

    def models_lists(folder):
        def check(folder, output):
            assert "classical-ct" in output and "available" in output

        return Built(["models"], check=check, outputs=())

    def image_folder_without_dicom(folder):
        (folder / "dicom").mkdir()
        (folder / "dicom" / "readme.txt").write_text("no slices here", encoding="utf-8")
        seg = write_labels(folder / "seg.nii.gz")
        return Built(["estimate", "--image", str(folder / "dicom"), "--seg", str(seg), "--out", str(folder / "out.csv")],
                     errors=(str(folder / "dicom"), "holds no DICOM series"))  # fmt: skip

    for name, command, build in (
        ("estimate-works", "estimate", estimate_works),
        ("train-negative-head-epochs", "train-estimator", negative_head_epochs),
        ("eval-weights-missing", "eval-estimator", eval_weights_missing),
        ("eval-weights-garbage", "eval-estimator", eval_weights_garbage),
        ("estimate-weights-missing", "estimate", estimate_weights_missing),
        ("segment-image-missing", "segment", segment_image_missing),
        ("models-lists", "models", models_lists),
        ("estimate-image-folder-without-dicom", "estimate", image_folder_without_dicom),
    ):
        cases.append(Case(f"command-{name}", command, build))
    return cases


# ---------------------------------------------------------------- select

SELECT_OUTPUTS = ("out.nii.gz", "out.labels.json", "out.selection.csv", "out.reference.json")


def select_command_cases() -> list[Case]:
    """``segquality select``: malformed candidates, missing files, other grids, outputs onto inputs, and a
    small case that works (classical mode)."""

    def inputs(folder):
        image = write_volume(folder / "image.nii.gz")
        first = write_labels(folder / "a.nii.gz")
        labels = reference_labels().copy()
        labels[labels == 2] = 0
        second = write_labels(folder / "b.nii.gz", labels)
        return image, first, second

    def select(folder, *extra):
        return ["select", "--image", str(folder / "image.nii.gz"), *extra, "--mode", "classical",
                "--device", "cpu", "--out", str(folder / "out.nii.gz")]  # fmt: skip

    def built(argv, errors):
        return Built(argv, errors=errors, outputs=SELECT_OUTPUTS)

    def one_seg(folder):
        _, first, _ = inputs(folder)
        return built(select(folder, "--seg", f"a={first}"), ("--seg", "at least two"))

    def seg_without_name(folder):
        _, first, second = inputs(folder)
        return built(select(folder, "--seg", str(first), "--seg", f"b={second}"), (str(first), "NAME=PATH"))

    def duplicate_names(folder):
        _, first, second = inputs(folder)
        return built(select(folder, "--seg", f"model={first}", "--seg", f"Model={second}"),
                     ("--seg Model", "'model' is given twice"))  # fmt: skip

    def seg_missing(folder):
        _, first, _ = inputs(folder)
        absent = folder / "absent.nii.gz"
        return built(
            select(folder, "--seg", f"a={first}", "--seg", f"b={absent}"), (str(absent), "file not found")
        )

    def image_missing(folder):
        _, first, second = inputs(folder)
        (folder / "image.nii.gz").unlink()
        return built(select(folder, "--seg", f"a={first}", "--seg", f"b={second}"),
                     (str(folder / "image.nii.gz"), "file not found"))  # fmt: skip

    def seg_off_grid(folder):
        _, first, _ = inputs(folder)
        odd = write_labels(folder / "odd.nii.gz", spacing=(3.0, 3.0, 3.0))
        return built(select(folder, "--seg", f"a={first}", "--seg", f"odd={odd}"),
                     (str(odd), "not on the same voxel grid"))  # fmt: skip

    def reference_off_grid(folder):
        _, first, second = inputs(folder)
        odd = write_labels(folder / "gt.nii.gz", spacing=(3.0, 3.0, 3.0))
        return built(select(folder, "--seg", f"a={first}", "--seg", f"b={second}", "--reference", str(odd)),
                     (str(odd), "not on the same voxel grid"))  # fmt: skip

    def labels_missing(folder):
        _, first, second = inputs(folder)
        absent = folder / "absent.json"
        return built(select(folder, "--seg", f"a={first}", "--seg", f"b={second}", "--labels", str(absent)),
                     (str(absent), "label map file not found"))  # fmt: skip

    def seg_labels_unknown_model(folder):
        _, first, second = inputs(folder)
        maps = write_label_map(folder / "labels.json")
        return built(select(folder, "--seg", f"a={first}", "--seg", f"b={second}", "--seg-labels", f"c={maps}"),
                     ("--seg-labels c", "no --seg is named 'c'"))  # fmt: skip

    def reference_labels_alone(folder):
        _, first, second = inputs(folder)
        maps = write_label_map(folder / "labels.json")
        return built(select(folder, "--seg", f"a={first}", "--seg", f"b={second}", "--reference-labels", str(maps)),
                     ("--reference-labels needs --reference",))  # fmt: skip

    def out_is_an_input(folder):
        _, first, second = inputs(folder)
        argv = select(folder, "--seg", f"a={first}", "--seg", f"b={second}")
        argv[-1] = str(first)
        return built(argv, (str(first), "would destroy that input"))

    def out_not_an_image(folder):
        _, first, second = inputs(folder)
        argv = select(folder, "--seg", f"a={first}", "--seg", f"b={second}")
        argv[-1] = str(folder / "out.csv")
        return built(argv, (str(folder / "out.csv"), "output must end in one of"))

    def select_works(folder):
        _, first, second = inputs(folder)
        maps = write_label_map(folder / "labels.json")
        argv = select(folder, "--seg", f"a={first}", "--seg", f"b={second}", "--labels", str(maps),
                      "--reference", str(first), "--reference-labels", str(maps))  # fmt: skip

        def check(folder, output):
            with open(folder / "out.selection.csv", newline="", encoding="utf-8") as handle:
                found = {row["structure"]: row for row in csv.DictReader(handle)}
            assert sorted(found) == ["liver", "spleen"], found
            # b has no spleen: the spleen can only come from a.
            assert found["spleen"]["chosen_model"] == "a"
            assert json.loads((folder / "out.labels.json").read_text())["labels"] == {
                "1": "liver",
                "2": "spleen",
            }
            gain = json.loads((folder / "out.reference.json").read_text())
            assert gain["structures_scored"] == ["liver", "spleen"] and "Dice gain" in output

        return Built(argv, check=check, outputs=SELECT_OUTPUTS)

    cases = []
    for name, build in (
        ("one-seg", one_seg),
        ("seg-without-name", seg_without_name),
        ("duplicate-names", duplicate_names),
        ("seg-missing", seg_missing),
        ("image-missing", image_missing),
        ("seg-off-grid", seg_off_grid),
        ("reference-off-grid", reference_off_grid),
        ("labels-missing", labels_missing),
        ("seg-labels-unknown-model", seg_labels_unknown_model),
        ("reference-labels-alone", reference_labels_alone),
        ("out-is-an-input", out_is_an_input),
        ("out-not-an-image", out_not_an_image),
        ("works", select_works),
    ):
        cases.append(Case(f"select-{name}", "select", build))
    return cases

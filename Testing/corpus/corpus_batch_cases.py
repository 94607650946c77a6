"""Corpus cases of the batch commands: compare configs and full comparisons with broken files."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import SimpleITK as sitk
import yaml
from corpus_cases import Built, Case
from corpus_files import (
    SHAPE,
    broken_file,
    mask_array,
    reference_labels,
    write_image,
    write_label_map,
    write_labels,
    write_seg_nrrd,
)

# ---------------------------------------------------------------- compare configs


def write_cohort(folder: Path, *, models=("a", "b"), n_cases=2) -> dict:
    """A tiny comparison: gt/, pred/<model>/, labels.json; returns a config mapping with relative paths."""
    labels = reference_labels()
    for index in range(n_cases):
        write_labels(folder / "gt" / f"case{index}.nii.gz", labels)
        for model in models:
            write_labels(folder / "pred" / model / f"case{index}.nii.gz", labels)
    write_label_map(folder / "labels.json")
    return {
        "ground_truth": {"dir": "gt", "label_map": "labels.json"},
        "models": [{"name": model, "dir": f"pred/{model}", "label_map": "labels.json"} for model in models],
        "analysis": {"n_resamples": 100},
    }


def compare(folder: Path, config: Path, *extra: str) -> list[str]:
    return ["compare", "--config", str(config), "--workers", "1", "--no-progress", "--device", "cpu", *extra,
            "--out", str(folder / "out")]  # fmt: skip


def config_case(
    edit: Callable[[dict], None] | None,
    messages: Sequence[str],
    *,
    raw: str | bytes | None = None,
    names_config: bool = True,
):
    """A compare case whose YAML config is the tiny cohort's, edited (or replaced by ``raw``); its error
    names the config file (``names_config``) or the file the config points to."""

    def build(folder):
        config = write_cohort(folder)
        path = folder / "config.yaml"
        if raw is not None:
            path.write_bytes(raw if isinstance(raw, bytes) else raw.encode("utf-8"))
        else:
            edit(config)
            path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        return Built(compare(folder, path), errors=((str(path),) if names_config else ()) + tuple(messages))

    return build


def _set(path: str, value):
    def edit(config):
        target = config
        keys = path.split(".")
        for key in keys[:-1]:
            target = target[int(key)] if key.isdigit() else target.setdefault(key, {})
        target[keys[-1]] = value

    return edit


def _delete(path: str):
    def edit(config):
        target = config
        keys = path.split(".")
        for key in keys[:-1]:
            target = target[int(key)] if key.isdigit() else target[key]
        del target[keys[-1]]

    return edit


CONFIG_ERRORS = {
    "unknown-top-key": (
        _set("scorings", {"nsd_tolerance_mm": 1}),
        ("unknown key 'scorings'", "did you mean 'scoring'"),
    ),
    "unknown-top-key-far": (_set("colour", "red"), ("unknown key 'colour'", "expected one of")),
    "unknown-gt-key": (_set("ground_truth.labelmap", "x.json"), ("'ground_truth.labelmap'", "'label_map'")),
    "unknown-model-key": (_set("models.0.labelmaps", "x"), ("'models[0].labelmaps'", "'label_map'")),
    "unknown-card-key": (
        _set("models.0.card", {"versions": "1"}),
        ("'models[0].card.versions'", "'version'"),
    ),
    "unknown-scoring-key": (_set("scoring.nsd_tol", 2), ("'scoring.nsd_tol'", "'nsd_tolerance_mm'")),
    "unknown-analysis-key": (_set("analysis.bootstraps", 10), ("'analysis.bootstraps'",)),
    "unknown-images-key": (_set("images", {"folder": "im"}), ("'images.folder'", "expected one of dir")),
    "unknown-dataset-key": (_set("dataset", {"nam": "x"}), ("'dataset.nam'", "'name'")),
    "analysis-model-cards": (_set("analysis.model_cards", []), ("'analysis.model_cards'",)),
    "nsd-text": (
        _set("scoring.nsd_tolerance_mm", "abc"),
        ("scoring.nsd_tolerance_mm", "expected a number", "'abc'"),
    ),
    "nsd-negative": (_set("scoring.nsd_tolerance_mm", -1), ("scoring.nsd_tolerance_mm", "must be above 0")),
    "nsd-zero": (_set("scoring.nsd_tolerance_mm", 0), ("scoring.nsd_tolerance_mm", "must be above 0")),
    "nsd-nan": (_set("scoring.nsd_tolerance_mm", float("nan")), ("scoring.nsd_tolerance_mm", "finite")),
    "nsd-inf": (_set("scoring.nsd_tolerance_mm", float("inf")), ("scoring.nsd_tolerance_mm", "finite")),
    "nsd-bool": (_set("scoring.nsd_tolerance_mm", True), ("scoring.nsd_tolerance_mm", "expected a number")),
    "nsd-list": (_set("scoring.nsd_tolerance_mm", [1, 2]), ("scoring.nsd_tolerance_mm", "expected a number")),
    "surface": (_set("scoring.surface", "surfels"), ("scoring.surface", "one of surfel, voxel")),
    "hd95": (_set("scoring.hd95", "mean"), ("scoring.hd95", "one of max, pooled")),
    "device": (_set("scoring.device", "tpu"), ("scoring.device", "one of auto, cpu, cuda")),
    "resample-text": (
        _set("scoring.resample_pred", "yes please"),
        ("scoring.resample_pred", "true or false"),
    ),
    "trust-number": (_set("scoring.trust_gt_geometry", 1), ("scoring.trust_gt_geometry", "true or false")),
    "both-geometry": (
        lambda c: c.update(scoring={"resample_pred": True, "trust_gt_geometry": True}),
        ("exclude each other",),
    ),
    "scoring-list": (_set("scoring", [1]), ("scoring", "expected a mapping")),
    "resamples-small": (_set("analysis.n_resamples", 5), ("analysis.n_resamples", "at least 100")),
    "resamples-float": (_set("analysis.n_resamples", 150.5), ("analysis.n_resamples", "whole number")),
    "resamples-text": (_set("analysis.n_resamples", "many"), ("analysis.n_resamples", "whole number")),
    "seed-negative": (_set("analysis.seed", -1), ("analysis.seed", "at least 0")),
    "seed-text": (_set("analysis.seed", "x"), ("analysis.seed", "whole number")),
    "level-high": (_set("analysis.confidence_level", 1.5), ("analysis.confidence_level", "below 1")),
    "level-low": (_set("analysis.confidence_level", 0.3), ("analysis.confidence_level", "above 0.5")),
    "level-percent": (_set("analysis.confidence_level", 95), ("analysis.confidence_level", "below 1")),
    "worst-k-zero": (_set("analysis.worst_k", 0), ("analysis.worst_k", "at least 1")),
    "metrics-empty": (_set("analysis.metrics", []), ("analysis.metrics", "must not be empty")),
    "metrics-text": (_set("analysis.metrics", "dice"), ("analysis.metrics", "must be a list")),
    "metrics-numbers": (_set("analysis.metrics", [1]), ("analysis.metrics[0]", "expected text")),
    "lower-number": (_set("analysis.lower_is_better", 3), ("analysis.lower_is_better", "must be a list")),
    "margin-negative": (
        _set("analysis.equivalence_margins", {"dice": -0.1}),
        ("analysis.equivalence_margins.dice", "above 0"),
    ),
    "margin-text": (
        _set("analysis.equivalence_margins", {"dice": "abc"}),
        ("analysis.equivalence_margins.dice", "expected a number"),
    ),
    "margins-list": (
        _set("analysis.equivalence_margins", [0.1]),
        ("analysis.equivalence_margins", "mapping"),
    ),
    "models-mapping": (_set("models", {"name": "a"}), ("models", "must be a list")),
    "models-empty": (_set("models", []), ("no model to compare",)),
    "model-name-number": (_set("models.0.name", 7), ("models[0].name", "expected text")),
    "model-no-dir": (_delete("models.0.dir"), ("models[0].dir is required",)),
    "model-dir-empty": (_set("models.0.dir", ""), ("models[0].dir", "expected a path")),
    "model-twice": (_set("models.1.name", "a"), ("model name 'a' is given twice",)),
    "card-datasets-text": (
        _set("models.0.card", {"training_datasets": "BraTS"}),
        ("models[0].card.training_datasets", "must be a list"),
    ),
    "card-file-missing": (
        _set("models.0.card", "cards/absent.yaml"),
        ("absent.yaml", "model card for 'a' not found"),
    ),
    "gt-missing": (_delete("ground_truth"), ("ground_truth is required",)),
    "gt-dir-missing": (_delete("ground_truth.dir"), ("ground_truth.dir is required",)),
    "gt-text": (_set("ground_truth", "gt"), ("ground_truth", "expected a mapping")),
    "cases-number": (_set("cases", 5), ("cases", "expected path or null, got 5")),
    "images-text": (_set("images", "im"), ("images", "expected mapping or null, got 'im'")),
    "dataset-list": (_set("dataset", ["x"]), ("dataset", "expected")),
}
RAW_CONFIG_ERRORS = {
    "malformed-yaml": ("ground_truth: {dir: gt\nmodels: []\n", ("not valid YAML", "line 2")),
    "tab-indented": ("ground_truth:\n\tdir: gt\n", ("not valid YAML",)),
    "duplicate-key": (
        "ground_truth: {dir: gt}\nground_truth: {dir: gt2}\nmodels: []\n",
        ("not valid YAML", "key 'ground_truth' is given twice"),
    ),
    "empty-file": ("", ("expected a YAML mapping at the top level",)),
    "top-level-list": ("- ground_truth\n", ("expected a YAML mapping at the top level",)),
    "binary": (b"\x00\x01\x02\xff", ("not",)),
    "python-object": ("ground_truth: !!python/object/apply:os.system ['echo hi']\n", ("not valid YAML",)),
}


def config_cases() -> list[Case]:
    cases = [
        Case(
            f"config-{name}", "compare", config_case(edit, messages, names_config=name != "card-file-missing")
        )
        for name, (edit, messages) in CONFIG_ERRORS.items()
    ]
    cases += [Case(f"config-{name}", "compare", config_case(None, messages, raw=raw))
              for name, (raw, messages) in RAW_CONFIG_ERRORS.items()]  # fmt: skip

    def missing_config(folder):
        return Built(
            compare(folder, folder / "absent.yaml"),
            errors=(str(folder / "absent.yaml"), "config file not found"),
        )

    def config_folder(folder):
        (folder / "study.yaml").mkdir()
        return Built(
            compare(folder, folder / "study.yaml"),
            errors=(str(folder / "study.yaml"), "config file not found"),
        )

    def bom_config_reads(folder):
        config = write_cohort(folder)
        config["ground_truth"]["dir"] = "no_such_gt"
        path = folder / "config.yaml"
        path.write_bytes(b"\xef\xbb\xbf" + yaml.safe_dump(config).encode("utf-8"))
        return Built(compare(folder, path), errors=("no_such_gt", "ground-truth folder not found"))

    def gt_folder_empty(folder):
        config = write_cohort(folder)
        shutil.rmtree(folder / "gt")
        (folder / "gt").mkdir()
        path = folder / "config.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        return Built(compare(folder, path), errors=(str(folder / "gt"), "holds no image files"))

    def pred_folder_missing(folder):
        config = write_cohort(folder)
        config["models"][1]["dir"] = "pred/nowhere"
        path = folder / "config.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        return Built(
            compare(folder, path),
            errors=(str(folder / "pred" / "nowhere"), "'b' prediction folder not found"),
        )

    def case_table_bad(folder):
        config = write_cohort(folder)
        (folder / "cases.csv").write_text("case,patient\ncase0,p0\n", encoding="utf-8")
        config["cases"] = "cases.csv"
        path = folder / "config.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        return Built(compare(folder, path), errors=(str(folder / "cases.csv"), "needs a 'case_id' column"))

    def case_not_in_gt(folder):
        config = write_cohort(folder)
        (folder / "cases.csv").write_text("case_id,patient_id\ncase0,p0\ncase9,p9\n", encoding="utf-8")
        config["cases"] = "cases.csv"
        path = folder / "config.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        return Built(
            compare(folder, path), errors=(str(folder / "cases.csv"), "case 'case9' has no ground-truth file")
        )

    def two_files_one_case(folder):
        config = write_cohort(folder)
        write_labels(folder / "pred" / "a" / "case0.nrrd")
        path = folder / "config.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        return Built(
            compare(folder, path),
            errors=(str(folder / "pred" / "a"), "two 'a' prediction files for case 'case0'"),
        )

    def bad_gt_file(folder):
        config = write_cohort(folder)
        (folder / "gt" / "case1.nii.gz").unlink()
        broken_file(folder / "gt" / "case1.nii.gz", "text")
        path = folder / "config.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        return Built(
            compare(folder, path), errors=(str(folder / "gt" / "case1.nii.gz"), "not a readable image")
        )

    for name, build in (("missing", missing_config), ("a-folder", config_folder), ("bom", bom_config_reads),
                        ("gt-folder-empty", gt_folder_empty), ("pred-folder-missing", pred_folder_missing),
                        ("case-table-columns", case_table_bad), ("case-not-in-gt", case_not_in_gt),
                        ("two-files-one-case", two_files_one_case), ("bad-gt-file", bad_gt_file)):  # fmt: skip
        cases.append(Case(f"config-{name}", "compare", build))
    return cases


def compare_result_cases() -> list[Case]:
    """Full comparisons: every broken prediction is a failed (or missing) cell with a note, never an abort."""
    broken = {
        "empty": ("not a readable image",),
        "truncated": ("not a readable image",),
        "nan": ("NaN or infinite",),
        "negative": ("negative label values",),
        "four_d": ("a 4D image",),
        "layer_5": ("Segment0_Layer is 5",),
        "label_abc": ("Segment0_LabelValue is 'abc'",),
        "off_grid": ("not on the same voxel grid",),
    }

    def every_broken_prediction_is_a_failed_cell(folder):
        # One case per kind of broken file, all from model "broken"; "good" has every file but one.
        config = write_cohort(folder, models=("good", "broken"), n_cases=1)
        labels = reference_labels()
        for kind in broken:
            write_labels(folder / "gt" / f"{kind}.nii.gz", labels)
            write_labels(folder / "pred" / "good" / f"{kind}.nii.gz", labels)
        bad = folder / "pred" / "broken"
        broken_file(bad / "empty.nii.gz", "empty")
        broken_file(bad / "truncated.nii.gz", "truncated")
        write_image(bad / "nan.nrrd", mask_array("nan"))
        write_image(bad / "negative.nrrd", mask_array("negative"))
        sitk.WriteImage(sitk.Image([8, 7, 6, 2], sitk.sitkUInt8), str(bad / "four_d.nii.gz"))
        write_seg_nrrd(bad / "layer_5.seg.nrrd", labels, [("liver", 5, 1), ("spleen", 0, 2)])
        write_seg_nrrd(bad / "label_abc.seg.nrrd", labels, [("liver", 0, "abc"), ("spleen", 0, 2)])
        write_labels(bad / "off_grid.nii.gz", spacing=(2.0, 2.0, 2.0))
        (folder / "pred" / "good" / "nan.nii.gz").unlink()  # a missing file: missing_pred
        path = folder / "config.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")

        def check(folder, output):
            results = json.loads((folder / "out" / "results.json").read_text(encoding="utf-8"))
            notes = {(e["case_id"], e["model"]): e["note"] for e in results["run_notes"]["imputed_cells"]}
            for kind, messages in broken.items():
                assert all(message in notes[(kind, "broken")] for message in messages), (kind, notes)
            assert "no prediction file for case 'nan'" in notes[("nan", "good")]
            assert len(notes) == len(broken) + 1
            counts = results["analysis"]["status_counts"]
            assert counts == {"good": {"ok": 16, "missing_pred": 2}, "broken": {"ok": 2, "failed": 16}}, (
                counts
            )
            assert (folder / "out" / "report.html").is_file()

        return Built(compare(folder, path), check=check)

    def hostile_names_are_escaped(folder):
        models = ("<b>bold</b>", "quote\"d & 'amp'", "\u00e9l\u00e8ve \u6a21\u578b")
        config = write_cohort(folder, models=("m0", "m1", "m2"), n_cases=2)
        for index, name in enumerate(models):
            config["models"][index]["name"] = name
        for case in ("case0", "case1"):
            new = f"<img src=x onerror=alert(1)> {case}"
            for sub in ("gt", "pred/m0", "pred/m1", "pred/m2"):
                os.rename(folder / sub / f"{case}.nii.gz", folder / sub / f"{new}.nii.gz")
        path = folder / "config.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")

        def check(folder, stderr):
            report = (folder / "out" / "report.html").read_text(encoding="utf-8")
            assert "<img src=x" not in report and "<b>bold</b>" not in report
            assert "&lt;b&gt;bold&lt;/b&gt;" in report
            table = (folder / "out" / "cases.csv").read_text(encoding="utf-8")
            assert "<img src=x onerror=alert(1)> case0" in table

        return Built(compare(folder, path), check=check)

    def case_with_both_empty(folder):
        config = write_cohort(folder)
        empty = np.zeros(SHAPE, np.uint8)
        for sub in ("gt", "pred/a", "pred/b"):
            write_labels(folder / sub / "case1.nii.gz", empty)
        write_labels(folder / "pred/a" / "case0.nii.gz", empty)
        path = folder / "config.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")

        def check(folder, stderr):
            results = json.loads((folder / "out" / "results.json").read_text(encoding="utf-8"))
            counts = results["analysis"]["status_counts"]
            assert counts["a"] == {"empty_pred": 2, "both_empty": 2} and counts["b"] == {
                "ok": 2,
                "both_empty": 2,
            }

        return Built(compare(folder, path), check=check)

    return [
        Case(
            "compare-broken-predictions-are-failed-cells", "compare", every_broken_prediction_is_a_failed_cell
        ),
        Case("compare-hostile-names-escaped", "compare", hostile_names_are_escaped),
        Case("compare-empty-structures", "compare", case_with_both_empty),
    ]

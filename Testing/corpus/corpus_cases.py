"""The bad-input corpus: generated cases for every command, each with what it must do.

A case writes its inputs into a fresh folder and gives the command line. It either expects an error
(exit 2, exactly one stderr line naming the file or option and the problem) or a result (exit 0 and a
check of the output), and in both the inputs must come out byte-for-byte unchanged.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import SimpleITK as sitk
from corpus_files import (
    LABELS,
    SHAPE,
    broken_file,
    mask_array,
    reference_labels,
    write_image,
    write_label_map,
    write_labels,
    write_seg_nrrd,
    write_volume,
)


@dataclass(frozen=True)
class Built:
    """A case's command line and expectations, once its inputs are written.

    ``errors``: substrings the one error line must hold (with exit code ``exit_code``, 2 by default),
    ``forbidden`` ones it must not; no ``errors`` means the command must succeed and
    ``check(folder, stderr)`` must hold. ``outputs`` are the paths (relative to the folder) the command
    may write; everything else in the folder, and ``extra_inputs``, are inputs.
    """

    argv: list[str]
    errors: tuple[str, ...] = ()
    forbidden: tuple[str, ...] = ()
    check: Callable[[Path, str], None] | None = None
    outputs: tuple[str, ...] = ("out", "out.csv", "out.slices.json")
    exit_code: int | None = None
    extra_inputs: tuple[Path, ...] = ()


@dataclass(frozen=True)
class Case:
    id: str
    command: str
    build: Callable[[Path], Built]
    needs_shared_data: bool = False


def rows(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return {row["structure"]: row for row in csv.DictReader(handle)}


def perfect_scores(*names: str):
    """A check: every named structure scored ok with Dice 1 and HD 0."""

    def check(folder: Path, stderr: str) -> None:
        found = rows(folder / "out.csv")
        assert sorted(found) == sorted(names), found
        for name in names:
            assert found[name]["status"] == "ok" and float(found[name]["dice"]) == 1.0, found[name]
            assert float(found[name]["hd"]) == 0.0

    return check


def statuses(expected: dict[str, str], *, dice: dict[str, float] | None = None):
    def check(folder: Path, stderr: str) -> None:
        found = rows(folder / "out.csv")
        assert {name: row["status"] for name, row in found.items()} == expected, found
        for name, value in (dice or {}).items():
            assert math.isclose(float(found[name]["dice"]), value, abs_tol=1e-9), found[name]

    return check


def score(folder: Path, pred: Path, gt: Path, *extra: str) -> list[str]:
    return [
        "score",
        "--pred",
        str(pred),
        "--gt",
        str(gt),
        "--device",
        "cpu",
        *extra,
        "--out",
        str(folder / "out.csv"),
    ]


# ---------------------------------------------------------------- score: every file and voxel type


VOXEL_TYPES = ("uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "int64", "float32", "float64")
FORMATS = (".nii.gz", ".nii", ".nrrd", ".mha")


def voxel_type_cases() -> list[Case]:
    cases = []
    for dtype in VOXEL_TYPES:
        for suffix in FORMATS:

            def build(folder, dtype=dtype, suffix=suffix):
                labels = reference_labels().astype(dtype)
                gt = write_labels(folder / f"gt{suffix}", labels)
                pred = write_labels(folder / f"pred{suffix}", labels)
                return Built(score(folder, pred, gt), check=perfect_scores("label_1", "label_2"))

            cases.append(Case(f"score-{dtype}{suffix}", "score", build))

    def mhd(folder):
        gt = write_labels(folder / "gt.mhd")
        pred = write_labels(folder / "pred.nii.gz")
        return Built(score(folder, pred, gt), check=perfect_scores("label_1", "label_2"))

    def seg_nrrd(folder):
        labels = reference_labels()
        pred = write_seg_nrrd(folder / "pred.seg.nrrd", labels, [("liver", 0, 1), ("spleen", 0, 2)])
        gt = write_labels(folder / "gt.nii.gz", labels)
        maps = write_label_map(folder / "labels.json")
        return Built(
            score(folder, pred, gt, "--gt-labels", str(maps)), check=perfect_scores("liver", "spleen")
        )

    def seg_nrrd_layers(folder):
        labels = reference_labels()
        overlapping = np.stack([labels == 1, (labels == 1) | (labels == 2)]).astype(np.uint8)
        pred = write_seg_nrrd(
            folder / "pred.seg.nrrd", overlapping, [("liver", 0, 1), ("liver_and_spleen", 1, 1)]
        )
        union = np.where(labels > 0, 2, 0).astype(np.uint8)
        union[labels == 1] = 1
        gt = write_labels(folder / "gt.nii.gz", labels)
        maps = write_label_map(folder / "labels.json", {"1": "liver", "2": "spleen"})
        return Built(
            score(folder, pred, gt, "--gt-labels", str(maps)),
            check=statuses({"liver": "ok", "spleen": "not_supported", "liver_and_spleen": "not_supported"},
                           dice={"liver": 1.0}),
        )  # fmt: skip

    def mask_folders(folder):
        labels = reference_labels()
        for side in ("gt", "pred"):
            write_labels(folder / side / "liver.nii.gz", (labels == 1).astype(np.uint8))
            write_labels(folder / side / "spleen.nrrd", (labels == 2).astype(np.uint8))
        return Built(score(folder, folder / "pred", folder / "gt"), check=perfect_scores("liver", "spleen"))

    def two_d(folder):
        labels = reference_labels()[3]
        gt = write_labels(folder / "gt.nii.gz", labels)
        pred = write_labels(folder / "pred.nrrd", labels)
        return Built(score(folder, pred, gt), check=perfect_scores("label_1", "label_2"))

    def huge_label_value(folder):
        labels = reference_labels().astype(np.int64)
        labels[labels == 2] = 2**40
        gt = write_labels(folder / "gt.nrrd", labels)
        return Built(score(folder, gt, gt), check=perfect_scores("label_1", f"label_{2**40}"))

    def bool_like_float(folder):
        labels = (reference_labels() == 1).astype(np.float64)
        gt = write_labels(folder / "gt.nrrd", labels)
        return Built(score(folder, gt, gt), check=perfect_scores("label_1"))

    for name, build in (("mhd", mhd), ("seg-nrrd", seg_nrrd), ("seg-nrrd-overlapping-layers", seg_nrrd_layers),
                        ("mask-folders", mask_folders), ("2d", two_d), ("huge-label-value", huge_label_value),
                        ("float-binary", bool_like_float)):  # fmt: skip
        cases.append(Case(f"score-{name}", "score", build))
    return cases


# ---------------------------------------------------------------- broken image files, every role

BROKEN_KINDS = ("empty", "text", "random", "truncated", "folder")
BROKEN_MESSAGES = {
    "empty": "not a readable image",
    "text": "not a readable image",
    "random": "not a readable image",
    "truncated": "not a readable image",
    "folder": "holds no DICOM series",
}
MASK_KINDS = {
    "nan": "NaN or infinite",
    "inf": "NaN or infinite",
    "fraction": "non-integer values",
    "negative": "negative label values",
    "float_huge": "beyond +-2^53",
    "uint64_huge": "beyond 2^63",
    "complex": "complex voxels",
}
SHAPE_KINDS = {
    "4d": (lambda: sitk.Image([8, 7, 6, 2], sitk.sitkUInt8), "a 4D image (8 x 7 x 6 x 2)"),
    "rgb": (
        lambda: _on_the_grid(sitk.GetImageFromArray(np.zeros(SHAPE + (3,), np.uint8), isVector=True)),
        "3 components",
    ),
}


def _on_the_grid(image: sitk.Image) -> sitk.Image:
    """The corpus's default geometry, so the file's content, not its grid, is what is wrong with it."""
    image.SetSpacing((1.0, 1.0, 2.0))
    return image


def write_bad(folder: Path, name: str, kind: str, *, mask: bool = True) -> tuple[Path, str]:
    """A bad file of ``kind`` named ``name`` (with suffix) and the problem its error must name.

    A folder is read as a folder of masks where a segmentation is expected (``mask``), else as DICOM.
    """
    path = folder / name
    if kind == "folder" and mask:
        path.mkdir()
        return path, "holds no mask files"
    if kind in BROKEN_KINDS:
        if kind == "truncated" and name.endswith((".nrrd", ".mha")):
            write_labels(path)
            data = path.read_bytes()
            path.write_bytes(data[: len(data) - 100])
            return path, "not a readable image"
        return broken_file(path, kind), BROKEN_MESSAGES[kind]
    if kind == "missing":
        return path, "file not found"
    if kind in MASK_KINDS:
        return write_image(path, mask_array(kind)), MASK_KINDS[kind]
    if kind in SHAPE_KINDS:
        make, message = SHAPE_KINDS[kind]
        sitk.WriteImage(make(), str(path))
        return path, message
    raise ValueError(kind)


def broken_file_cases() -> list[Case]:
    cases = []
    file_kinds = ("missing", *BROKEN_KINDS, "4d", "rgb")
    for role in ("pred", "gt"):
        for kind in (*file_kinds, *MASK_KINDS):
            for suffix in (
                (".nrrd",)
                if kind in MASK_KINDS
                else (".nii.gz", ".nrrd", ".mha")
                if kind == "truncated"
                else (".nii.gz",)
            ):

                def build(folder, role=role, kind=kind, suffix=suffix):
                    good = write_labels(folder / f"good{suffix if suffix != '.nii.gz' else '.nii.gz'}")
                    bad, message = write_bad(folder, f"bad_{role}{suffix}", kind)
                    pred, gt = (bad, good) if role == "pred" else (good, bad)
                    return Built(score(folder, pred, gt), errors=(str(bad), message))

                cases.append(Case(f"score-{role}-{kind}{suffix}", "score", build))
    for kind in (*file_kinds, "complex"):

        def build_image(folder, kind=kind):
            seg = write_labels(folder / "seg.nii.gz")
            if kind == "complex":
                bad = write_image(folder / "image.nrrd", np.ones(SHAPE, np.complex64))
                message = "complex voxels"
            else:
                bad, message = write_bad(folder, "image.nii.gz", kind, mask=False)
                message = "expected a scalar image" if kind == "rgb" else message
            return Built(["estimate", "--image", str(bad), "--seg", str(seg), "--out", str(folder / "out.csv")],
                         errors=(str(bad), message))  # fmt: skip

        cases.append(Case(f"estimate-image-{kind}", "estimate", build_image))
    for kind in (*file_kinds, *MASK_KINDS):

        def build_seg(folder, kind=kind):
            image = write_volume(folder / "image.nii.gz")
            bad, message = write_bad(folder, "seg.nrrd", kind)
            return Built(["estimate", "--image", str(image), "--seg", str(bad), "--out", str(folder / "out.csv")],
                         errors=(str(bad), message))  # fmt: skip

        cases.append(Case(f"estimate-seg-{kind}", "estimate", build_seg))

    for kind, values in (("nan", np.nan), ("inf", np.inf), ("all-nan", None)):

        def build_nan(folder, values=values):
            seg = write_labels(folder / "seg.nii.gz")
            volume = np.zeros(SHAPE, np.float32) if values is not None else np.full(SHAPE, np.nan, np.float32)
            if values is not None:
                volume[2, 3, 4] = values
            image = write_image(folder / "image.nrrd", volume)
            return Built(["estimate", "--image", str(image), "--seg", str(seg), "--out", str(folder / "out.csv")],
                         errors=(str(image), "NaN and", "meaningless"))  # fmt: skip

        cases.append(Case(f"estimate-image-{kind}-voxels", "estimate", build_nan))
    return cases


# ---------------------------------------------------------------- geometry differences

ROTATED = tuple(np.round(np.array([[0.866, -0.5, 0], [0.5, 0.866, 0], [0, 0, 1.0]]).ravel(), 6))


def geometry_cases() -> list[Case]:
    cases = []
    labels = reference_labels()
    errors = {
        "size": (
            {"array": np.zeros((6, 7, 9), np.uint8)},
            ("size (9, 7, 6) vs (8, 7, 6)", "--resample-pred"),
        ),
        "spacing": ({"spacing": (1.5, 1.5, 1.5)}, ("spacing", "headers disagree", "--trust-gt-geometry")),
        "origin": ({"origin": (5.0, 0.0, 0.0)}, ("origin (5, 0, 0) vs (0, 0, 0)", "--trust-gt-geometry")),
        "direction": ({"direction": ROTATED}, ("direction", "--trust-gt-geometry")),
        "2d-vs-3d": ({"array": labels[3]}, ("size (8, 7, 1) vs (8, 7, 6)",)),
    }
    for name, (change, messages) in errors.items():

        def build(folder, change=change, messages=messages):
            change = dict(change)
            array = change.pop("array", None)
            gt = write_labels(folder / "gt.nii.gz")
            pred = write_labels(folder / "pred.nii.gz", array, **change)
            return Built(
                score(folder, pred, gt), errors=(str(pred), str(gt), "not on the same voxel grid", *messages)
            )

        cases.append(Case(f"geometry-{name}", "score", build))

    def spacing_only_does_not_offer_resampling(folder):
        gt = write_labels(folder / "gt.nii.gz")
        pred = write_labels(folder / "pred.nii.gz", spacing=(1.5, 1.5, 1.5))
        return Built(score(folder, pred, gt), errors=("--trust-gt-geometry",), forbidden=("--resample-pred",))

    def origin_within_tolerance(folder):
        gt = write_labels(folder / "gt.nii.gz")
        pred = write_labels(folder / "pred.nii.gz", origin=(1e-4, 0.0, 0.0))
        return Built(score(folder, pred, gt), check=perfect_scores("label_1", "label_2"))

    def flipped_axis_is_reoriented(folder):
        gt = write_labels(folder / "gt.nii.gz")
        # The x axis runs the other way: the same voxel centres, laid out mirrored.
        pred = write_labels(folder / "pred.nrrd", labels[:, :, ::-1].copy(), origin=(7.0, 0.0, 0.0),
                            direction=(-1, 0, 0, 0, 1, 0, 0, 0, 1))  # fmt: skip
        return Built(score(folder, pred, gt), check=perfect_scores("label_1", "label_2"))

    def permuted_axes_are_reoriented(folder):
        gt = write_labels(folder / "gt.nii.gz", spacing=(1.0, 1.0, 1.0))
        # Array axes (z, y, x) -> (z, x, y): image axis 0 runs along y, axis 1 along x.
        pred = write_labels(folder / "pred.nrrd", labels.transpose(0, 2, 1).copy(), spacing=(1.0, 1.0, 1.0),
                            direction=(0, 1, 0, 1, 0, 0, 0, 0, 1))  # fmt: skip
        return Built(score(folder, pred, gt), check=perfect_scores("label_1", "label_2"))

    def resample_opt_in(folder):
        gt = write_labels(folder / "gt.nii.gz", spacing=(1.0, 1.0, 1.0))
        pred = write_labels(folder / "pred.nii.gz", np.repeat(labels, 2, axis=2), spacing=(0.5, 1.0, 1.0))
        return Built(score(folder, pred, gt, "--resample-pred"), check=perfect_scores("label_1", "label_2"))

    def trust_opt_in(folder):
        gt = write_labels(folder / "gt.nii.gz")
        pred = write_labels(folder / "pred.nii.gz", spacing=(1.5, 1.5, 1.5), origin=(3.0, 2.0, 1.0))
        return Built(
            score(folder, pred, gt, "--trust-gt-geometry"), check=perfect_scores("label_1", "label_2")
        )

    def trust_needs_the_same_matrix(folder):
        gt = write_labels(folder / "gt.nii.gz")
        pred = write_labels(folder / "pred.nii.gz", np.zeros((6, 7, 9), np.uint8))
        return Built(
            score(folder, pred, gt, "--trust-gt-geometry"), errors=(str(pred), "different voxel matrices")
        )

    def both_flags(folder):
        gt = write_labels(folder / "gt.nii.gz")
        return Built(score(folder, gt, gt, "--trust-gt-geometry", "--resample-pred"),
                     errors=("--resample-pred", "not allowed with argument --trust-gt-geometry"))  # fmt: skip

    def mask_folder_mixed_grids(folder):
        write_labels(folder / "gt" / "liver.nii.gz", (labels == 1).astype(np.uint8))
        odd = write_labels(folder / "gt" / "spleen.nii.gz", (labels == 2).astype(np.uint8), spacing=(2, 2, 2))
        pred = write_labels(folder / "pred.nii.gz")
        return Built(score(folder, pred, folder / "gt"), errors=(str(odd), "not on the same voxel grid"))

    def estimate_seg_off_grid(folder):
        image = write_volume(folder / "image.nii.gz")
        seg = write_labels(folder / "seg.nii.gz", spacing=(3.0, 3.0, 3.0))
        return Built(["estimate", "--image", str(image), "--seg", str(seg), "--out", str(folder / "out.csv")],
                     errors=(str(seg), str(image), "not on the same voxel grid"))  # fmt: skip

    def estimate_other_seg_off_grid(folder):
        image = write_volume(folder / "image.nii.gz")
        seg = write_labels(folder / "seg.nii.gz")
        other = write_labels(folder / "other.nii.gz", np.zeros((6, 7, 9), np.uint8))
        return Built(["estimate", "--image", str(image), "--seg", str(seg), "--other-seg", str(other),
                      "--out", str(folder / "out.csv")], errors=(str(other), "size"))  # fmt: skip

    for name, build in (
        ("spacing-only-no-resample-hint", spacing_only_does_not_offer_resampling),
        ("origin-within-tolerance", origin_within_tolerance),
        ("flipped-axis", flipped_axis_is_reoriented),
        ("permuted-axes", permuted_axes_are_reoriented),
        ("resample-pred", resample_opt_in),
        ("trust-gt-geometry", trust_opt_in),
        ("trust-different-matrix", trust_needs_the_same_matrix),
        ("both-geometry-flags", both_flags),
        ("mask-folder-mixed-grids", mask_folder_mixed_grids),
        ("estimate-seg-off-grid", estimate_seg_off_grid),
        ("estimate-other-seg-off-grid", estimate_other_seg_off_grid),
    ):
        cases.append(Case(f"geometry-{name}", name.startswith("estimate") and "estimate" or "score", build))

    def amos_refused(folder, *, shared):
        pair = shared / "sam_med3d" / "amos_0013_labels_only"
        pred, gt = pair / "pred_sammed3d_kidney_right.nii.gz", pair / "gt.nii.gz"
        return Built(score(folder, pred, gt), errors=(str(pred), str(gt), "headers disagree", "--trust-gt-geometry"),
                     forbidden=("--resample-pred",), extra_inputs=(pred, gt))  # fmt: skip

    def amos_trusted(folder, *, shared):
        """Trusted, the SAM-Med3D "kidney_right" lies on AMOS label 3, which AMOS calls the left kidney
        (on the patient's left by the header): laterality in the viewer's words, a finding of its own."""
        pair = shared / "sam_med3d" / "amos_0013_labels_only"
        pred, gt = pair / "pred_sammed3d_kidney_right.nii.gz", pair / "gt.nii.gz"
        kidney = write_label_map(folder / "kidney.json", {"1": "left kidney"})
        amos = shared / "labelmaps" / "amos.json"
        argv = score(
            folder, pred, gt, "--pred-labels", str(kidney), "--gt-labels", str(amos), "--trust-gt-geometry"
        )

        def check(folder, output):
            found = rows(folder / "out.csv")
            assert found["left kidney"]["status"] == "ok" and float(found["left kidney"]["dice"]) > 0.9
            assert found["right kidney"]["status"] == "not_supported"

        return Built(argv, check=check, extra_inputs=(pred, gt, amos))

    cases.append(Case("geometry-amos-headers-disagree", "score", amos_refused, needs_shared_data=True))
    cases.append(Case("geometry-amos-trust-gt-geometry", "score", amos_trusted, needs_shared_data=True))
    return cases


# ---------------------------------------------------------------- label maps

LABEL_MAP_ERRORS = {
    "malformed-json": ('{"labels": {"1": "liver",}', "not a readable JSON label map"),
    "top-level-list": ('["liver", "spleen"]', "expected a JSON object"),
    "labels-a-list": ('{"labels": ["liver"]}', "expected a JSON object"),
    "non-integer-value": ('{"labels": {"one": "liver"}}', "label value 'one' is not an integer"),
    "float-value": ('{"labels": {"1.5": "liver"}}', "label value '1.5' is not an integer"),
    "negative-value": ('{"labels": {"-1": "liver"}}', "label value -1 is negative"),
    "empty-name": ('{"labels": {"1": "  "}}', "label 1 has no name"),
    "number-name": ('{"labels": {"1": 7}}', "label 1 has no name"),
    "null-name": ('{"labels": {"1": null}}', "label 1 has no name"),
    "value-twice": ('{"labels": {"1": "liver", "1": "spleen"}}', "label value '1' is given twice"),
    "names-alike": ('{"labels": {"1": "Liver", "2": "li-ver"}}', "'Liver' (label 1) and 'li-ver' (label 2)"),
    "same-name": ('{"labels": {"1": "liver", "2": "liver"}}', "'liver' (label 1) and 'liver' (label 2)"),
    "only-background": ('{"labels": {"0": "background"}}', "names no structure"),
    "empty-object": ("{}", "names no structure"),
    "empty-file": ("", "not a readable JSON label map"),
    "binary": (b"\x00\xff\xfe\x00garbage", "not a readable JSON label map"),
    "utf16": ('{"labels": {"1": "liver"}}'.encode("utf-16"), "not a readable JSON label map"),
    "deeply-nested": ("[" * 100000 + "]" * 100000, "not a readable JSON label map"),
    "value-not-named": ('{"labels": {"1": "liver"}}', "label values 2 are not in the label map"),
}


def label_map_cases() -> list[Case]:
    cases = []
    for side in ("pred", "gt"):
        for name, (raw, message) in LABEL_MAP_ERRORS.items():

            def build(folder, side=side, raw=raw, message=message, name=name):
                labels_path = write_label_map(folder / "labels.json", raw=raw)
                image = write_labels(folder / "labels.nii.gz")
                good = write_label_map(folder / "good.json")
                pred_labels, gt_labels = (labels_path, good) if side == "pred" else (good, labels_path)
                argv = score(
                    folder, image, image, "--pred-labels", str(pred_labels), "--gt-labels", str(gt_labels)
                )
                shown = str(image) if name == "value-not-named" else str(labels_path)
                return Built(argv, errors=(shown, message))

            cases.append(Case(f"labelmap-{side}-{name}", "score", build))

    def missing(folder):
        image = write_labels(folder / "labels.nii.gz")
        return Built(score(folder, image, image, "--pred-labels", str(folder / "absent.json")),
                     errors=(str(folder / "absent.json"), "label map file not found"))  # fmt: skip

    def a_folder(folder):
        image = write_labels(folder / "labels.nii.gz")
        (folder / "maps.json").mkdir()
        return Built(score(folder, image, image, "--gt-labels", str(folder / "maps.json")),
                     errors=(str(folder / "maps.json"), "label map file not found"))  # fmt: skip

    def with_bom(folder):
        image = write_labels(folder / "labels.nii.gz")
        maps = write_label_map(
            folder / "bom.json", raw=b"\xef\xbb\xbf" + json.dumps({"labels": LABELS}).encode()
        )
        argv = score(folder, image, image, "--pred-labels", str(maps), "--gt-labels", str(maps))
        return Built(argv, check=perfect_scores("liver", "spleen"))

    def note_key_and_bare_map(folder):
        image = write_labels(folder / "labels.nii.gz")
        maps = write_label_map(folder / "maps.json", {"note": "from the atlas", "1": "liver", "2": "spleen"})
        return Built(score(folder, image, image, "--pred-labels", str(maps), "--gt-labels", str(maps)),
                     check=perfect_scores("liver", "spleen"))  # fmt: skip

    def hostile_structure_names(folder):
        image = write_labels(folder / "labels.nii.gz")
        names = {"1": '<script>alert("x")</script>', "2": "rein gauche, \u00e9l\u00e8ve \u80be"}
        maps = write_label_map(folder / "maps.json", {"labels": names})
        return Built(score(folder, image, image, "--pred-labels", str(maps), "--gt-labels", str(maps)),
                     check=perfect_scores(*names.values()))  # fmt: skip

    def declared_but_absent(folder):
        image = write_labels(folder / "labels.nii.gz")
        maps = write_label_map(folder / "maps.json", {"labels": {**LABELS, "99999999999": "far away"}})
        argv = score(folder, image, image, "--pred-labels", str(maps), "--gt-labels", str(maps))
        return Built(argv, check=statuses({"liver": "ok", "spleen": "ok", "far away": "both_empty"}))

    def names_match_across_spelling(folder):
        image = write_labels(folder / "labels.nii.gz")
        gt_maps = write_label_map(folder / "gt.json", {"1": "Liver", "2": "Spleen"})
        pred_maps = write_label_map(folder / "pred.json", {"1": "li-ver", "2": "spl_een"})
        argv = score(folder, image, image, "--pred-labels", str(pred_maps), "--gt-labels", str(gt_maps))
        return Built(argv, check=perfect_scores("Liver", "Spleen"))

    def swapped_ids_match_by_name(folder):
        labels = reference_labels()
        swapped = np.where(labels == 1, 2, np.where(labels == 2, 1, 0)).astype(np.uint8)
        gt = write_labels(folder / "gt.nii.gz", labels)
        pred = write_labels(folder / "pred.nii.gz", swapped)
        gt_maps = write_label_map(folder / "gt.json", {"1": "liver", "2": "spleen"})
        pred_maps = write_label_map(folder / "pred.json", {"2": "liver", "1": "spleen"})
        argv = score(folder, pred, gt, "--pred-labels", str(pred_maps), "--gt-labels", str(gt_maps))
        return Built(argv, check=perfect_scores("liver", "spleen"))

    for name, build in (("missing", missing), ("a-folder", a_folder), ("bom", with_bom),
                        ("note-key-bare-map", note_key_and_bare_map), ("hostile-structure-names", hostile_structure_names),
                        ("declared-but-absent", declared_but_absent), ("names-alike-match", names_match_across_spelling),
                        ("swapped-ids", swapped_ids_match_by_name)):  # fmt: skip
        cases.append(Case(f"labelmap-{name}", "score", build))
    return cases


# ---------------------------------------------------------------- Slicer .seg.nrrd

SEG_ERRORS = {
    "label-value-abc": (
        [("liver", 0, "abc"), ("spleen", 0, 2)],
        "Segment0_LabelValue is 'abc', not an integer",
    ),
    "layer-5": ([("liver", 5, 1), ("spleen", 0, 2)], "Segment0_Layer is 5, but the file has 1 layer(s)"),
    "layer-x": ([("liver", "x", 1), ("spleen", 0, 2)], "Segment0_Layer is 'x', not an integer"),
    "layer-negative": ([("liver", -1, 1), ("spleen", 0, 2)], "Segment0_Layer is -1"),
    "label-value-0": ([("liver", 0, 0), ("spleen", 0, 2)], "Segment0_LabelValue is 0"),
    "label-value-negative": ([("liver", 0, -2), ("spleen", 0, 2)], "Segment0_LabelValue is -2"),
    "undeclared-value": ([("liver", 0, 1)], "layer 0 holds label values 2 that no segment declares"),
}


def seg_nrrd_cases() -> list[Case]:
    cases = []
    for side in ("pred", "gt"):
        for name, (segments, message) in SEG_ERRORS.items():

            def build(folder, side=side, segments=segments, message=message):
                bad = write_seg_nrrd(folder / f"{side}.seg.nrrd", reference_labels(), segments)
                good = write_labels(folder / "good.nii.gz")
                pred, gt = (bad, good) if side == "pred" else (good, bad)
                return Built(score(folder, pred, gt), errors=(str(bad), message))

            cases.append(Case(f"seg-nrrd-{side}-{name}", "score", build))

        def negative_voxels(folder, side=side):
            layers = reference_labels().astype(np.int16)
            layers[0, 0, 0] = -1
            bad = write_seg_nrrd(folder / f"{side}.seg.nrrd", layers, [("liver", 0, 1), ("spleen", 0, 2)])
            good = write_labels(folder / "good.nii.gz")
            pred, gt = (bad, good) if side == "pred" else (good, bad)
            return Built(score(folder, pred, gt), errors=(str(bad), "negative label values"))

        cases.append(Case(f"seg-nrrd-{side}-negative-voxels", "score", negative_voxels))

    def duplicate_names_kept(folder):
        labels = reference_labels()
        pred = write_seg_nrrd(folder / "pred.seg.nrrd", labels, [("liver", 0, 1), ("liver", 0, 2)])
        gt = write_labels(folder / "gt.nii.gz", labels)
        maps = write_label_map(folder / "gt.json", {"1": "liver", "2": "liver #2"})

        def check(folder, stderr):
            perfect_scores("liver", "liver #2")(folder, stderr)
            [warning] = [line for line in stderr.splitlines() if "warning" in line]
            assert str(pred) in warning and "'liver', 'liver #2'" in warning

        return Built(score(folder, pred, gt, "--gt-labels", str(maps)), check=check)

    def no_segment_fields(folder):
        labels = reference_labels()
        pred = write_seg_nrrd(folder / "pred.seg.nrrd", labels, [])
        gt = write_labels(folder / "gt.nii.gz", labels)
        return Built(score(folder, pred, gt), check=perfect_scores("label_1", "label_2"))

    def corrupt_header(folder):
        good = write_labels(folder / "good.nii.gz")
        bad = folder / "pred.seg.nrrd"
        bad.write_bytes(b"NRRD0004\ntype: what\ndimension: x\n\n\x00\x01")
        return Built(score(folder, bad, good), errors=(str(bad), "not a readable image"))

    for name, build in (("duplicate-names", duplicate_names_kept), ("no-segment-fields", no_segment_fields),
                        ("corrupt-header", corrupt_header)):  # fmt: skip
        cases.append(Case(f"seg-nrrd-{name}", "score", build))
    return cases

"""Labelled cases the estimator learns from and is judged on: image channels, reference, real outputs.

A case names every image channel it has (each MR sequence separately), whether its reference is a
manual contour or a model output used as a pseudo-reference, and its ``role``: ``train`` cases may
shape shipped weights (their licences allow derived weights) and are judged by leave-one-patient-out
cross-validation; ``evaluation`` cases are never trained on (here: the CC BY-NC-SA BRATS 2015 set).
The default catalogue covers ``../shared/data``; ``load_case_file`` reads one's own cases from JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, Union

from ..errors import InputFileError, SegQualityError
from ..io import LabelMap

ROLES = ("train", "evaluation")
SEQUENCES = ("CT", "FLAIR", "T1", "T1c", "T2", "MR")
REFERENCE_KINDS = ("manual", "model")

LabelMapSource = Union[Path, LabelMap, None]


class CaseFileError(SegQualityError):
    """A case list (JSON) is malformed: a missing key, an unknown role or sequence, a missing file."""


@dataclass(frozen=True)
class ImageChannel:
    """One image of a case: its sequence (``CT``, ``FLAIR``, ``T1``, ``T1c``, ``T2`` or plain ``MR``)."""

    sequence: str
    path: Path


@dataclass(frozen=True)
class ModelOutput:
    """A real segmenter's output for a case; ``family`` groups versions of one method (held out together)."""

    family: str
    model: str
    path: Path
    label_map: LabelMapSource = None


@dataclass(frozen=True)
class LabelledCase:
    """One study with its reference segmentation; ``patient`` groups studies for cross-validation."""

    case_id: str
    patient: str
    role: str
    channels: tuple[ImageChannel, ...]
    reference: Path
    reference_label_map: LabelMapSource = None
    reference_kind: str = "manual"
    model_outputs: tuple[ModelOutput, ...] = ()
    source: str = ""

    @property
    def modality(self) -> str:
        return "CT" if self.channels[0].sequence == "CT" else "MR"

    @property
    def image(self) -> Path:
        """The first channel's file: the grid every other file of the case is read onto."""
        return self.channels[0].path


def shared_data_cases(root: str | Path) -> list[LabelledCase]:
    """The catalogue of ``../shared/data``: 8 training patients (9 studies) and 4 evaluation-only patients.

    TotalSegmentator ``ct_sm`` is slices 82-111 of ``ct`` (identical voxels): one patient, two studies
    with different reference versions. The BraTS-Toolkit case's reference is the majority vote of the
    five BraTS-2020 algorithms whose outputs are also its candidates (pseudo-reference). The BRATS 2013
    cases (``deepmedic_brats2015``, CC BY-NC-SA 3.0) are ``evaluation``: never trained or calibrated on.
    """
    root = Path(root)
    maps = root / "labelmaps"
    ts, pr, tk = root / "totalsegmentator", root / "pyradiomics", root / "brats_toolkit" / "TCGA-DU-7294"
    ts_v1, ts_v2 = maps / "totalsegmentator_total_v1.json", maps / "totalsegmentator_total_v2.json"
    ts_v2_old = maps / "totalsegmentator_total_v2_before_2024-03-14.json"
    brats20, brats13 = maps / "brats_2017_2020.json", maps / "brats_2013_2015.json"
    lesion = LabelMap({1: "lesion"}, source="binary lesion mask")
    ts_source = "TotalSegmentator test data (Wasserthal et al. 2023), Apache-2.0"

    def ct(path: Path) -> tuple[ImageChannel, ...]:
        return (ImageChannel("CT", path),)

    fast_family = "totalsegmentator_fast"
    cases = [
        LabelledCase(
            "ts_ct",
            "ts_example",
            "train",
            ct(ts / "ct/image.nii.gz"),
            ts / "ct/pred_total_v1.nii.gz",
            ts_v1,
            "model",
            (
                ModelOutput(fast_family, "fast_v1", ts / "ct/pred_total_fast_v1.nii.gz", ts_v1),
                ModelOutput(fast_family, "fast_v2", ts / "ct/pred_total_fast_v2_forcesplit.nii.gz", ts_v2),
                ModelOutput(
                    "totalsegmentator_vertebrae",
                    "vertebrae_v2",
                    ts / "ct/pred_vertebrae_v2_spine_report.nii.gz",
                    ts_v2,
                ),
            ),
            ts_source,
        ),
        LabelledCase(
            "ts_ct_sm",
            "ts_example",
            "train",
            ct(ts / "ct_sm/image.nii.gz"),
            ts / "ct_sm/pred_total_v2.nii.gz",
            ts_v2,
            "model",
            (
                ModelOutput(fast_family, "fast_v2", ts / "ct_sm/pred_total_fast_v2.nii.gz", ts_v2),
                ModelOutput(
                    fast_family, "fast_bodyseg_v2", ts / "ct_sm/pred_total_fast_bodyseg_v2.nii.gz", ts_v2
                ),
                ModelOutput(
                    "totalsegmentator_total",
                    "total_v2_2023_10",
                    ts / "ct_sm/pred_total_v2_nnunetv2.1_2023-10.nii.gz",
                    ts_v2_old,
                ),
            ),
            ts_source,
        ),
        LabelledCase(
            "ts_ct_dicom",
            "ts_ct_dicom",
            "train",
            ct(ts / "ct_dicom/dicom"),
            ts / "ct_dicom/pred_total_v2.nii.gz",
            ts_v2,
            "model",
            source=ts_source,
        ),
        LabelledCase(
            "lung1",
            "lung1",
            "train",
            ct(pr / "lung1_image.nrrd"),
            pr / "lung1_label.nrrd",
            lesion,
            "manual",
            source="pyradiomics test data (van Griethuysen et al. 2017), BSD-3-Clause",
        ),
        LabelledCase(
            "brain1",
            "brain1",
            "train",
            (ImageChannel("T1c", pr / "brain1_image.nrrd"),),
            pr / "brain1_label.nrrd",
            lesion,
            "manual",
            source="pyradiomics test data; image TCIA TCGA-GBM (Clark et al. 2013), CC BY 3.0",
        ),
        LabelledCase(
            "brain2",
            "brain2",
            "train",
            (ImageChannel("T1c", pr / "brain2_image.nrrd"),),
            pr / "brain2_label.nrrd",
            lesion,
            "manual",
            source="pyradiomics test data, BSD-3-Clause",
        ),
        LabelledCase(
            "breast1",
            "breast1",
            "train",
            (ImageChannel("MR", pr / "breast1_image.nrrd"),),
            pr / "breast1_label.nrrd",
            lesion,
            "manual",
            source="pyradiomics test data, BSD-3-Clause",
        ),
        LabelledCase(
            "tcga_du_7294",
            "tcga_du_7294",
            "train",
            tuple(
                ImageChannel(sequence, tk / f"image_{sequence.lower()}.nii.gz")
                for sequence in ("FLAIR", "T1", "T1c", "T2")
            ),
            tk / "fusion_mav.nii.gz",
            brats20,
            "model",
            tuple(
                ModelOutput("brats2020_algorithms", name, tk / f"{prefix}{name}.nii.gz", brats20)
                for prefix, name in (
                    *(
                        ("pred_", n)
                        for n in ("hnfnetv1-20", "isen-20", "sanet0-20", "scan-20", "yixinmpl-20")
                    ),
                    ("", "fusion_simple"),
                )
            ),
            "BraTS-Toolkit (Kofler et al. 2020), Apache-2.0; images TCIA TCGA-LGG, CC BY 3.0",
        ),
        LabelledCase(
            "brats2021_01646",
            "brats2021_01646",
            "train",
            (ImageChannel("FLAIR", root / "sam_med3d/BraTS2021_01646/image_flair.nii.gz"),),
            root / "sam_med3d/BraTS2021_01646/gt_edema.nii.gz",
            LabelMap({1: "edema"}, source="BraTS 2021 edema mask"),
            "manual",
            source="SAM-Med3D examples (BraTS 2021, Baid et al. 2021), Apache-2.0",
        ),
    ]
    for number in range(1, 5):
        folder = root / "deepmedic_brats2015" / f"brats_2013_pat000{number}_1"
        cases.append(
            LabelledCase(
                f"brats2013_pat{number}",
                f"brats2013_pat{number}",
                "evaluation",
                (
                    ImageChannel("FLAIR", folder / "image_flair_zscore.nii.gz"),
                    ImageChannel("T1c", folder / "image_t1c_zscore.nii.gz"),
                ),
                folder / "gt.nii.gz",
                brats13,
                "manual",
                source="BRATS 2013 via DeepMedic (Menze et al. 2015), CC BY-NC-SA 3.0: evaluation only",
            )
        )
    return cases


def cases_from(*, shared_data: Path | None = None, case_file: Path | None = None) -> list[LabelledCase]:
    """The cases of ``train-estimator`` and ``eval-estimator``: the shared-data catalogue or a case list."""
    if shared_data is None:
        return load_case_file(case_file)
    if not (Path(shared_data) / "manifest.json").is_file():
        raise InputFileError(f"{shared_data}: not the shared data folder (no manifest.json)")
    return shared_data_cases(shared_data)


def patients_of(cases: Sequence[LabelledCase], *, role: str = "train") -> list[str]:
    """The distinct patients of the cases with ``role``, in catalogue order."""
    return list(dict.fromkeys(c.patient for c in cases if c.role == role))


def check_patient_roles(cases: Sequence[LabelledCase]) -> None:
    """Raise ``CaseFileError`` if one patient has studies in both roles (evaluation data would leak)."""
    roles: dict[str, str] = {}
    for case in cases:
        if roles.setdefault(case.patient, case.role) != case.role:
            raise CaseFileError(
                f"patient '{case.patient}' has both '{roles[case.patient]}' and '{case.role}' studies "
                f"({case.case_id}): one patient, one role"
            )


def load_case_file(path: str | Path) -> list[LabelledCase]:
    """Read cases from JSON; relative paths are taken from the JSON file's folder::

    [{"case_id", "patient", "role": "train"|"evaluation",
      "channels": [{"sequence": "CT"|"FLAIR"|"T1"|"T1c"|"T2"|"MR", "path"}],
      "reference", "reference_label_map"?, "reference_kind"?: "manual"|"model",
      "model_outputs"?: [{"family", "model", "path", "label_map"?}], "source"?}]
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: case list not found")
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CaseFileError(f"{path}: not a readable JSON case list ({error})") from None
    if not isinstance(entries, list):
        raise CaseFileError(f"{path}: expected a JSON list of cases")
    base = path.parent
    cases = []
    for number, entry in enumerate(entries):
        try:
            case = LabelledCase(
                case_id=str(entry["case_id"]),
                patient=str(entry["patient"]),
                role=str(entry["role"]),
                channels=tuple(
                    ImageChannel(str(c["sequence"]), _file(base, c["path"])) for c in entry["channels"]
                ),
                reference=_file(base, entry["reference"]),
                reference_label_map=_optional(base, entry.get("reference_label_map")),
                reference_kind=str(entry.get("reference_kind", "manual")),
                model_outputs=tuple(
                    ModelOutput(
                        str(o["family"]),
                        str(o["model"]),
                        _file(base, o["path"]),
                        _optional(base, o.get("label_map")),
                    )
                    for o in entry.get("model_outputs", ())
                ),
                source=str(entry.get("source", "")),
            )
        except (KeyError, TypeError) as error:
            raise CaseFileError(f"{path}: case {number} lacks {error}") from None
        _check_case(case, path)
        cases.append(case)
    check_patient_roles(cases)
    return cases


def _check_case(case: LabelledCase, path: Path) -> None:
    if case.role not in ROLES:
        raise CaseFileError(f"{path}: case '{case.case_id}' has role '{case.role}', not one of {ROLES}")
    if not case.channels:
        raise CaseFileError(f"{path}: case '{case.case_id}' lists no image channel")
    for channel in case.channels:
        if channel.sequence not in SEQUENCES:
            raise CaseFileError(
                f"{path}: case '{case.case_id}' has sequence '{channel.sequence}', not one of {SEQUENCES}"
            )
    if case.reference_kind not in REFERENCE_KINDS:
        raise CaseFileError(
            f"{path}: case '{case.case_id}' has reference_kind '{case.reference_kind}', "
            f"not one of {REFERENCE_KINDS}"
        )


def _file(base: Path, value: str) -> Path:
    return (base / value) if not Path(value).is_absolute() else Path(value)


def _optional(base: Path, value: str | None) -> Path | None:
    return None if value is None else _file(base, value)

"""Cases of a comparison: files matched by case id across the ground truth, images and each model.

A case id is a file name without its image suffix (``case_001.nii.gz`` -> ``case_001``), or the name of
a per-case folder (a folder of binary masks, one per structure, as ``segquality score`` reads it); a
folder may also be a ``{case}`` pattern (``case_ids.case_entries``). Images may carry nnU-Net's channel
suffix (``case_001_0000.nii.gz``). The ground-truth folder (or the case table, when given) defines the
cases; a model without a file for a case gets ``missing_pred`` cells.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import pandas as pd

from ..io import LabelMap, StructureSet, read_structure_folder, read_structures
from ..io.geometry import Geometry
from .case_ids import CASE_PLACEHOLDER, case_entries
from .config import CompareConfig
from .errors import BatchConfigError

_RESERVED_COLUMNS = ("model", "structure", "metric", "value", "status", "failure_mode")


@dataclass(frozen=True)
class Case:
    """One evaluated case: its patient (the bootstrap cluster), metadata, and files."""

    case_id: str
    patient_id: str
    metadata: Mapping[str, str]
    gt_path: Path
    image_path: Path | None
    prediction_paths: Mapping[str, Path | None]


def files_by_case(folder: Path, *, role: str) -> dict[str, Path]:
    """Image files and per-case folders of one folder (or ``{case}`` pattern) by case id; two entries with
    the same case id are an error."""
    listed = Path(str(folder).partition(CASE_PLACEHOLDER)[0]) if CASE_PLACEHOLDER in str(folder) else folder
    if not listed.is_dir():
        raise BatchConfigError(f"{listed}: {role} folder not found")
    found: dict[str, Path] = {}
    for case_id, path in case_entries(folder):
        if case_id in found:
            raise BatchConfigError(
                f"{folder}: two {role} files for case '{case_id}' ({found[case_id].name}, {path.name})"
            )
        found[case_id] = path
    return found


def read_case_table(path: Path) -> pd.DataFrame:
    """The case table: ``case_id``, ``patient_id`` and any metadata columns, all read as text."""
    if not path.is_file():
        raise BatchConfigError(f"{path}: case table not found")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise BatchConfigError(f"{path}: not a readable CSV case table ({error})") from None
    table.columns = [str(column).strip() for column in table.columns]
    for column in ("case_id", "patient_id"):
        if column not in table.columns:
            raise BatchConfigError(f"{path}: the case table needs a '{column}' column")
    clash = [column for column in table.columns if column in _RESERVED_COLUMNS]
    if clash:
        raise BatchConfigError(f"{path}: metadata column '{clash[0]}' clashes with a score-table column")
    table["case_id"] = table["case_id"].str.strip()
    table["patient_id"] = table["patient_id"].str.strip()
    if (table["case_id"] == "").any() or (table["patient_id"] == "").any():
        raise BatchConfigError(f"{path}: every row needs a case_id and a patient_id")
    duplicated = table["case_id"][table["case_id"].duplicated()]
    if not duplicated.empty:
        raise BatchConfigError(f"{path}: case '{duplicated.iloc[0]}' is listed twice")
    return table


def match_cases(config: CompareConfig) -> tuple[list[Case], dict[str, list[str]]]:
    """The cases to score, and per model the prediction files that match no case (reported, not scored)."""
    gt_files = files_by_case(config.gt_dir, role="ground-truth")
    if not gt_files:
        raise BatchConfigError(
            f"{config.gt_dir}: the ground-truth folder holds no image files or per-case folders"
        )
    images = _image_files(config.image_dir) if config.image_dir else {}
    predictions = {
        m.name: files_by_case(m.prediction_dir, role=f"'{m.name}' prediction") for m in config.models
    }
    if config.cases_csv is not None:
        table = read_case_table(config.cases_csv)
        missing_gt = [case_id for case_id in table["case_id"] if case_id not in gt_files]
        if missing_gt:
            raise BatchConfigError(
                f"{config.cases_csv}: case '{missing_gt[0]}' has no ground-truth file in {config.gt_dir}"
            )
        rows = table.to_dict("records")
    else:
        rows = [{"case_id": case_id, "patient_id": case_id} for case_id in gt_files]
    cases = []
    for row in rows:
        case_id = row["case_id"]
        metadata = {key: value for key, value in row.items() if key not in ("case_id", "patient_id")}
        cases.append(
            Case(
                case_id=case_id,
                patient_id=row["patient_id"],
                metadata=metadata,
                gt_path=gt_files[case_id],
                image_path=images.get(case_id),
                prediction_paths={name: files.get(case_id) for name, files in predictions.items()},
            )
        )
    known = {case.case_id for case in cases}
    unmatched = {name: sorted(set(files) - known) for name, files in predictions.items()}
    return cases, {name: ids for name, ids in unmatched.items() if ids}


def _image_files(folder: Path) -> dict[str, Path]:
    """Image files by case id, accepting nnU-Net's ``<case>_0000`` channel suffix for the first channel."""
    found = {}
    for case_id, path in files_by_case(folder, role="image").items():
        if case_id.endswith("_0000"):
            found.setdefault(case_id[: -len("_0000")], path)
        else:
            found[case_id] = path
    return found


def read_case_structures(
    path: Path,
    *,
    label_map: LabelMap | Path | None,
    reference: Geometry | None = None,
    reference_name: str = "the reference",
    resample: bool = False,
    trust_reference_geometry: bool = False,
) -> StructureSet:
    """One case's structures: a label image or ``.seg.nrrd`` through its label map, or a per-case folder of
    binary masks (one file per structure, named after it), the layouts ``segquality score`` reads."""
    if path.is_dir():
        return read_structure_folder(
            path, reference=reference, trust_reference_geometry=trust_reference_geometry
        )
    return read_structures(
        path,
        label_map=label_map,
        reference=reference,
        reference_name=reference_name,
        resample=resample,
        trust_reference_geometry=trust_reference_geometry,
    )

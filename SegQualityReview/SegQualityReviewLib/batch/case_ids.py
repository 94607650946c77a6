"""Case ids from file names: the name without its image suffix (``case_001.nii.gz`` -> ``case_001``).

A case may also be a folder (a folder of binary masks, one per structure, or a DICOM series), named
after the case, and a model's folder may be a pattern with ``{case}`` standing for the case id, for
layouts that keep each case's readers or models side by side (``hn/{case}/oncologist``). Kept free of
pandas and yaml so the Slicer module's Batch tab (``review.batch_view``) can find a case's files with the
same rule compare matched them by, without loading the batch analysis.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Optional

CASE_PLACEHOLDER = "{case}"
IMAGE_SUFFIXES = (".seg.nrrd", ".nii.gz", ".nii", ".nrrd", ".mha", ".mhd")


def case_id_of(path: Path) -> str | None:
    """The case id of an image file name, or None when the file is not an image this package reads."""
    lower = path.name.lower()
    for suffix in IMAGE_SUFFIXES:
        if lower.endswith(suffix):
            return path.name[: -len(suffix)]
    return None


def case_entries(folder: Path) -> Iterator[tuple[str, Path]]:
    """(case id, file or folder) for every case entry of a folder or a ``{case}`` pattern, sorted by path.

    Entries are image files (case id = the name without its suffix) and sub-folders (case id = the folder
    name; hidden ones skipped). A pattern such as ``hn/{case}/oncologist`` lists the folders of ``hn`` and
    yields ``hn/<name>/oncologist`` for each name where that path exists.
    """
    text = str(folder)
    if CASE_PLACEHOLDER in text:
        prefix, _, suffix = text.partition(CASE_PLACEHOLDER)
        parent = Path(prefix)
        if not parent.is_dir():
            return
        for entry in sorted(parent.iterdir()):
            candidate = Path(f"{prefix}{entry.name}{suffix}")
            if entry.is_dir() and not entry.name.startswith(".") and candidate.exists():
                yield entry.name, candidate
        return
    for path in sorted(folder.iterdir()):
        if path.is_dir():
            if not path.name.startswith("."):
                yield path.name, path
            continue
        case_id = case_id_of(path)
        if case_id is not None:
            yield case_id, path


def entry_for_case(folder: Path, case_id: str) -> Optional[Path]:
    """The file or folder of one case in a folder or ``{case}`` pattern, or None."""
    if CASE_PLACEHOLDER in str(folder):
        candidate = Path(str(folder).replace(CASE_PLACEHOLDER, case_id))
        return candidate if candidate.exists() else None
    if not folder.is_dir():
        return None
    return next((path for found, path in case_entries(folder) if found == case_id), None)

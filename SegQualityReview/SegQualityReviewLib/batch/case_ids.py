"""Case ids from file names: the name without its image suffix (``case_001.nii.gz`` -> ``case_001``).

Kept free of pandas and yaml so the Slicer module's Batch tab (``review.batch_view``) can find a case's
files with the same rule compare matched them by, without loading the batch analysis.
"""

from __future__ import annotations

from pathlib import Path

IMAGE_SUFFIXES = (".seg.nrrd", ".nii.gz", ".nii", ".nrrd", ".mha", ".mhd")


def case_id_of(path: Path) -> str | None:
    """The case id of an image file name, or None when the file is not an image this package reads."""
    lower = path.name.lower()
    for suffix in IMAGE_SUFFIXES:
        if lower.endswith(suffix):
            return path.name[: -len(suffix)]
    return None

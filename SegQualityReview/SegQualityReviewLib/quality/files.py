"""Estimating quality straight from files: the thin layer that batch leaderboards and per-case
selection build on (one case's structures from files -> ``QualityEstimate`` records)."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

from ..io import LabelMap, StructureSet, read_structure_folder, read_structures, read_volume
from .estimator import QualityEstimate, estimate_quality


def read_segmentation(
    path: str | Path, *, label_map: LabelMap | str | Path | None, reference, reference_name: str
) -> StructureSet:
    """A label image, ``.seg.nrrd`` or folder of masks on the image's grid."""
    path = Path(path)
    if path.is_dir():
        return read_structure_folder(path, reference=reference)
    return read_structures(path, label_map=label_map, reference=reference, reference_name=reference_name)


def estimate_files(
    *,
    image: str | Path,
    segmentation: str | Path,
    label_map: LabelMap | str | Path | None = None,
    channels: Mapping[str, str | Path] | None = None,
    sequence: str | None = None,
    other_segmentations: Sequence[str | Path] = (),
    other_label_map: LabelMap | str | Path | None = None,
    **options,
) -> list[QualityEstimate]:
    """Read one case (image, further channels, its segmentation and others) and estimate every
    structure's quality; ``options`` are ``estimate_quality``'s keyword options."""
    volume = read_volume(image)
    extra = {name: read_volume(path) for name, path in (channels or {}).items()}
    structures = read_segmentation(
        segmentation, label_map=label_map, reference=volume.geometry, reference_name=str(image)
    )
    others = [
        read_segmentation(
            path, label_map=other_label_map, reference=volume.geometry, reference_name=str(image)
        )
        for path in other_segmentations
    ]
    return estimate_quality(
        volume, structures, channels=extra, sequence=sequence, other_segmentations=others, **options
    )

"""Writing a segmentation as one label image plus a label-map JSON beside it, and reading it back by name.

``S.nii.gz`` gets ``S.labels.json`` (``{"labels": {"1": "lung_left", ...}}``); values follow the order
of the structure names. The image is written with SimpleITK on the exact grid of the segmentation.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ..io import LabelMap, StructureSet, read_structures
from .base import SegmenterError

_IMAGE_SUFFIXES = (".nii.gz", ".nii", ".seg.nrrd", ".nrrd", ".mha", ".mhd")


class OverlappingStructuresError(SegmenterError):
    """Two structures share voxels, so they cannot be written into one label image."""


def label_map_path_for(image_path: str | Path) -> Path:
    """Where the label-map JSON of a label image lies: ``S.nii.gz`` -> ``S.labels.json``."""
    return sidecar_path_for(image_path, ".labels.json")


def sidecar_path_for(image_path: str | Path, ending: str) -> Path:
    """A file beside a label image named after it: ``S.nii.gz`` with ``.medsam.json`` -> ``S.medsam.json``."""
    image_path = Path(image_path)
    name = image_path.name
    for suffix in _IMAGE_SUFFIXES:
        if name.lower().endswith(suffix):
            return image_path.with_name(name[: -len(suffix)] + ending)
    raise SegmenterError(f"{image_path}: output must end in one of {', '.join(_IMAGE_SUFFIXES)}")


def label_array(structures: StructureSet) -> tuple[np.ndarray, LabelMap]:
    """One uint16 (z, y, x) label array with values 1..N in name order, and its label map."""
    labels = np.zeros(structures.geometry.array_shape, dtype=np.uint16)
    names_by_value = {}
    for value, name in enumerate(structures.names, start=1):
        mask = structures.mask(name)
        clash = labels[mask]
        if clash.any():
            other = names_by_value[int(clash[clash > 0][0])]
            raise OverlappingStructuresError(
                f"{structures.source}: structures '{other}' and '{name}' overlap, so they cannot share one label image"
            )
        labels[mask] = value
        names_by_value[value] = name
    return labels, LabelMap(names_by_value=names_by_value, source=structures.source)


def write_segmentation(structures: StructureSet, path: str | Path) -> tuple[Path, Path]:
    """Write the label image and its ``.labels.json``; returns both paths."""
    path = Path(path)
    json_path = label_map_path_for(path)
    labels, label_map = label_array(structures)
    image = sitk.GetImageFromArray(labels)
    structures.geometry.apply_to(image)
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(image, str(path), useCompression=True)
    table = {str(value): name for value, name in sorted(label_map.names_by_value.items())}
    json_path.write_text(json.dumps({"labels": table}, indent=1) + "\n", encoding="utf-8")
    return path, json_path


def read_segmentation(path: str | Path, **read_options) -> StructureSet:
    """Read a label image written by ``write_segmentation`` (with its ``.labels.json``) as named structures."""
    path = Path(path)
    json_path = label_map_path_for(path)
    label_map = LabelMap.load(json_path) if json_path.is_file() else None
    return read_structures(path, label_map=label_map, **read_options)

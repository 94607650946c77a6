"""Slicer ``.seg.nrrd`` files: segment names, layers and label values from the NRRD header.

Slicer allows two segments with one name; both are kept, the later ones as ``name #2``, ``name #3``,
with a warning, so no segment is silently lost. Every malformed header field is a one-line
``LabelMapError`` naming the file and the field.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ..errors import InputFileError, LabelMapError
from .geometry import Geometry
from .labelmaps import LabelMap, normalize_structure_name
from .structures import StructureSet

logger = logging.getLogger(__name__)


def read_slicer_segmentation(
    path: Path, image: sitk.Image, label_map: LabelMap | None, *, label_array
) -> StructureSet:
    """Segments of a Slicer .seg.nrrd already read as ``image``; ``label_array(path, array)`` checks a layer.

    A file without segment fields is an ordinary label image (``label_map`` names its values).
    """
    import nrrd

    try:
        header = nrrd.read_header(str(path))
    except (nrrd.NRRDError, OSError, UnicodeDecodeError, ValueError) as error:
        raise InputFileError(f"{path}: the NRRD header could not be read ({error})") from None
    geometry = Geometry.from_sitk(image)
    array = sitk.GetArrayFromImage(image)
    if image.GetNumberOfComponentsPerPixel() > 1:
        layers = [label_array(path, array[..., index]) for index in range(array.shape[-1])]
    else:
        layers = [label_array(path, array)]
    segments = _segments(path, header)
    if not segments:
        return StructureSet.from_label_array(layers[0], geometry, label_map=label_map, source=str(path))
    locations = {}
    for field, name, layer, value in segments:
        if layer >= len(layers):
            raise LabelMapError(
                f"{path}: {field}_Layer is {layer}, but the file has {len(layers)} layer(s) (0 to {len(layers) - 1})"
            )
        locations[name] = (layer, value)
    _check_every_value_is_a_segment(path, layers, locations.values())
    return StructureSet(layers=tuple(layers), locations=locations, geometry=geometry, source=str(path))


def _segments(path: Path, header: dict) -> list[tuple[str, str, int, int]]:
    """(field prefix, unique name, layer, label value) of every segment, in header order."""
    segments = []
    taken: set[str] = set()
    # Normalised name -> the names its segments were given: "liver", "liver #2", ...
    groups: dict[str, list[str]] = {}
    index = 0
    while f"Segment{index}_ID" in header:
        field = f"Segment{index}"
        name = str(header.get(f"{field}_Name") or header[f"{field}_ID"]).strip() or f"segment_{index}"
        layer = _integer(path, header, f"{field}_Layer", default=0)
        value = _integer(path, header, f"{field}_LabelValue", default=index + 1)
        if value == 0:
            raise LabelMapError(f"{path}: {field}_LabelValue is 0, which is the background, not a segment")
        unique, copy = name, 1
        while normalize_structure_name(unique) in taken:
            copy += 1
            unique = f"{name} #{copy}"
        taken.add(normalize_structure_name(unique))
        groups.setdefault(normalize_structure_name(name), []).append(unique)
        segments.append((field, unique, layer, value))
        index += 1
    for names in groups.values():
        if len(names) > 1:
            logger.warning(
                "%s: %d segments are named '%s'; all are kept, as %s",
                path,
                len(names),
                names[0],
                ", ".join(f"'{name}'" for name in names),
            )
    return segments


def _integer(path: Path, header: dict, key: str, *, default: int) -> int:
    text = header.get(key)
    if text is None:
        return default
    try:
        value = int(str(text).strip())
    except ValueError:
        raise LabelMapError(f"{path}: {key} is '{text}', not an integer") from None
    if value < 0:
        raise LabelMapError(f"{path}: {key} is {value}; it must be 0 or more")
    return value


def _check_every_value_is_a_segment(path: Path, layers: list[np.ndarray], locations) -> None:
    """Voxels whose value no segment declares would be silently dropped: refuse them instead."""
    declared: dict[int, set[int]] = {}
    for layer, value in locations:
        declared.setdefault(layer, set()).add(value)
    for index, layer in enumerate(layers):
        undeclared = sorted(set(np.unique(layer).tolist()) - declared.get(index, set()) - {0})
        if undeclared:
            shown = ", ".join(str(v) for v in undeclared[:10]) + (" ..." if len(undeclared) > 10 else "")
            raise LabelMapError(f"{path}: layer {index} holds label values {shown} that no segment declares")

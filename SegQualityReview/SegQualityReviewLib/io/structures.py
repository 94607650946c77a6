"""Records for an intensity volume and a set of named structures on one voxel grid."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from ..errors import LabelMapError
from .geometry import Geometry
from .labelmaps import LabelMap, normalize_structure_name, same_name_message


@dataclass(frozen=True)
class Volume:
    """An intensity image: ``array`` is float32, indexed (z, y, x)."""

    array: np.ndarray
    geometry: Geometry
    source: str


@dataclass(frozen=True)
class StructureSet:
    """Named structures on one grid, stored as label layers so masks are only built when asked for.

    ``layers`` are integer arrays indexed (z, y, x); ``locations`` maps each structure name to its
    (layer index, label value). A multi-label file is one layer; a folder of binary masks, or a
    Slicer ``.seg.nrrd`` with overlapping segments, has several, so structures may overlap.

    ``implicit_labels`` marks a label image read without a label map: it declares every label value,
    so ``label_<v>`` is found (with an empty mask) even where the image holds no voxel of value v. An
    empty prediction is then ``empty_pred`` (Dice 0) against a reference, never ``not_supported``.
    """

    layers: tuple[np.ndarray, ...]
    locations: Mapping[str, tuple[int, int]]
    geometry: Geometry
    source: str
    implicit_labels: bool = False

    @classmethod
    def from_label_array(
        cls,
        labels: np.ndarray,
        geometry: Geometry,
        *,
        label_map: LabelMap | None = None,
        source: str = "<array>",
    ) -> StructureSet:
        """Structures of one multi-label (z, y, x) array; without a label map, every value is ``label_<v>``."""
        present = np.unique(labels)
        implicit = label_map is None
        if label_map is None:
            label_map = LabelMap.default_for(present, source=source)
        else:
            label_map.check_values(present, image_name=source)
        locations = {name: (0, value) for value, name in sorted(label_map.names_by_value.items())}
        return cls(
            layers=(labels,), locations=locations, geometry=geometry, source=source, implicit_labels=implicit
        )

    @classmethod
    def from_masks(
        cls, masks: Mapping[str, np.ndarray], geometry: Geometry, *, source: str = "<masks>"
    ) -> StructureSet:
        """Structures given as one boolean (z, y, x) mask each; they may overlap."""
        names = list(masks)
        seen: dict[str, str] = {}
        for name in names:
            other = seen.setdefault(normalize_structure_name(name), name)
            if other != name:
                raise LabelMapError(same_name_message(source, f"masks '{other}'", f"'{name}'"))
        layers = tuple(np.asarray(masks[name], dtype=bool).view(np.uint8) for name in names)
        for name, layer in zip(names, layers):
            if layer.shape != geometry.array_shape:
                raise LabelMapError(
                    f"{source}: mask '{name}' has shape {layer.shape}, expected {geometry.array_shape}"
                )
        return cls(
            layers=layers,
            locations={n: (i, 1) for i, n in enumerate(names)},
            geometry=geometry,
            source=source,
        )

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.locations)

    def find(self, name: str) -> str | None:
        """The name under which this set holds ``name`` (matched by normalised name), or None."""
        key = normalize_structure_name(name)
        for own in self.locations:
            if normalize_structure_name(own) == key:
                return own
        if self.implicit_labels and _implicit_value(key) is not None:
            return f"label_{_implicit_value(key)}"
        return None

    def location(self, name: str) -> tuple[int, int]:
        """(layer, label value) of one structure, also for a declared label value the image does not hold."""
        own = self.find(name)
        if own is None:
            raise LabelMapError(f"{self.source}: no structure named '{name}'")
        return self.locations.get(own) or (0, _implicit_value(normalize_structure_name(own)))

    def mask(self, name: str) -> np.ndarray:
        """Boolean (z, y, x) mask of one structure (all False when the structure is declared but absent)."""
        layer, value = self.location(name)
        return self.layers[layer] == value

    def masks(self, names: Sequence[str]) -> np.ndarray:
        """Stacked boolean masks, (len(names), z, y, x)."""
        stacked = np.empty((len(names),) + self.geometry.array_shape, dtype=bool)
        for index, name in enumerate(names):
            stacked[index] = self.mask(name)
        return stacked


@dataclass(frozen=True)
class StructurePair:
    """One structure as named in a prediction and in a reference; None where that side lacks it."""

    name: str
    pred_name: str | None
    gt_name: str | None


def pair_structures(pred: StructureSet, gt: StructureSet) -> list[StructurePair]:
    """Match the structures of two sets by name: reference order first, then prediction-only names.

    A structure the prediction does not declare at all has ``pred_name`` None (status ``not_supported``
    in the metrics), which is different from a declared structure with an empty mask.
    """
    pairs = [StructurePair(name=name, pred_name=pred.find(name), gt_name=name) for name in gt.names]
    paired = {normalize_structure_name(name) for name in gt.names}
    pairs += [
        StructurePair(name=name, pred_name=name, gt_name=None)
        for name in pred.names
        if normalize_structure_name(name) not in paired
    ]
    return pairs


def _implicit_value(key: str) -> int | None:
    """The label value v of a normalised ``label_<v>`` name, or None."""
    found = re.fullmatch(r"label0*(\d+)", key)
    return int(found.group(1)) if found and int(found.group(1)) > 0 else None

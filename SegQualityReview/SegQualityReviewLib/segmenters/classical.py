"""Built-in CT segmenters with no weights: body, lungs, trachea and bones from HU rules (honest weak baselines)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..io import StructureSet, Volume
from .anatomy import PatientAxes
from .base import RunControl, SegmenterError
from .ct_rules import body_mask, bone_mask, lung_masks, trachea_mask

CLASSICAL_CT_STRUCTURES = ("body", "lung_left", "lung_right", "trachea", "bones")
# The default set is disjoint, so it fits one label image; the body contains all of them and runs alone.
DEFAULT_ORGAN_STRUCTURES = ("lung_left", "lung_right", "trachea", "bones")


@dataclass(frozen=True)
class ClassicalCTSegmenter:
    """Threshold, morphology and region-growing rules on CT in Hounsfield units; runs in seconds on a CPU.

    ``structures`` picks a subset of ``CLASSICAL_CT_STRUCTURES``; the body is always computed, since
    every other rule works inside it. Bones exclude lung and trachea voxels, so organs never overlap.
    The bone rule was tuned on one case, declared in ``training_datasets`` for the contamination policy.
    """

    structures: tuple[str, ...] = DEFAULT_ORGAN_STRUCTURES
    name: str = "classical-ct"
    version: str = "1"
    training_datasets: tuple[str, ...] = ("totalsegmentator/ct_dicom",)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.structures) - set(CLASSICAL_CT_STRUCTURES))
        if unknown:
            raise SegmenterError(
                f"classical-ct: unknown structures {', '.join(unknown)} (known: {', '.join(CLASSICAL_CT_STRUCTURES)})"
            )

    def run(self, volume: Volume, *, control: RunControl | None = None) -> StructureSet:
        """Segment a CT volume whose voxels are in Hounsfield units."""
        control = control or RunControl()
        hu, geometry = volume.array, volume.geometry
        _check_looks_like_ct(volume)
        axes = PatientAxes.from_geometry(geometry)
        control.report(0.0, "body")
        body = body_mask(hu, geometry, axes=axes)
        masks = {"body": body}
        if "trachea" in self.structures or "lung_left" in self.structures or "lung_right" in self.structures:
            control.report(0.3, "trachea")
            masks["trachea"] = trachea_mask(hu, geometry, body=body, axes=axes)
            control.report(0.4, "lungs")
            lungs = lung_masks(hu, geometry, body=body & ~masks["trachea"], axes=axes)
            masks["lung_left"], masks["lung_right"] = lungs.left, lungs.right
        if "bones" in self.structures:
            control.report(0.7, "bones")
            bones = bone_mask(hu, geometry, body=body, axes=axes)
            for airway_or_lung in ("trachea", "lung_left", "lung_right"):
                if airway_or_lung in masks:
                    bones &= ~masks[airway_or_lung]
            masks["bones"] = bones
        control.report(1.0, "done")
        return StructureSet.from_masks(
            {name: masks[name] for name in self.structures}, geometry, source=self.name
        )


def _check_looks_like_ct(volume: Volume) -> None:
    """Refuse images that are clearly not CT in HU (the rules would return nonsense, not an error)."""
    low, high = np.percentile(volume.array, [1.0, 99.0])
    if low > -500.0 or high < 0.0:
        raise SegmenterError(
            f"{volume.source}: intensities from {low:.0f} to {high:.0f} (1st-99th percentile) do not look like "
            "CT in Hounsfield units; the classical-ct segmenter needs air near -1000 HU"
        )

"""A labelled case read into memory: normalised channels, reference and model outputs on one grid."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..io import StructureSet, Volume, check_same_geometry, read_structures, read_volume
from ..io.intensity import normalize_intensity
from .cases import LabelledCase, ModelOutput


@dataclass(frozen=True)
class ImageChannels:
    """The images of one study on one grid: raw volumes and [0, 1] normalised arrays, by sequence.

    The first channel is the primary image (the grid of every mask); CT keeps its Hounsfield values in
    ``raw`` for the intensity priors.
    """

    modality: str
    sequences: tuple[str, ...]
    raw: tuple[Volume, ...]
    normalised: tuple[np.ndarray, ...]

    @property
    def geometry(self):
        return self.raw[0].geometry

    @classmethod
    def from_volumes(cls, volumes: dict[str, Volume], *, modality: str) -> ImageChannels:
        """Channels from volumes keyed by sequence; all must share the first one's grid."""
        sequences = tuple(volumes)
        raw = tuple(volumes[s] for s in sequences)
        for volume in raw[1:]:
            check_same_geometry(
                volume.geometry, raw[0].geometry, first_name=volume.source, second_name=raw[0].source
            )
        normalised = tuple(normalize_intensity(v.array, modality=modality) for v in raw)
        return cls(modality=modality, sequences=sequences, raw=raw, normalised=normalised)


@dataclass(frozen=True)
class CaseData:
    """Everything of one labelled case the sample builder needs, read once."""

    case: LabelledCase
    channels: ImageChannels
    reference: StructureSet
    outputs: tuple[tuple[ModelOutput, StructureSet], ...]


def read_case(case: LabelledCase) -> CaseData:
    """Read a case's channels, reference and model outputs onto the first channel's grid."""
    volumes = {}
    for channel in case.channels:
        volume = read_volume(channel.path)
        if volumes:
            first = next(iter(volumes.values()))
            check_same_geometry(
                volume.geometry, first.geometry, first_name=str(channel.path), second_name=str(case.image)
            )
        volumes[channel.sequence] = volume
    channels = ImageChannels.from_volumes(volumes, modality=case.modality)

    def labels(path, label_map) -> StructureSet:
        return read_structures(
            path,
            label_map=label_map,
            reference=channels.geometry,
            reference_name=str(case.image),
            resample=True,
        )

    reference = labels(case.reference, case.reference_label_map)
    outputs = tuple((output, labels(output.path, output.label_map)) for output in case.model_outputs)
    return CaseData(case=case, channels=channels, reference=reference, outputs=outputs)

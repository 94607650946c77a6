"""What every signal reads about one study besides the candidate mask: images, spacing, body, priors."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .body import BodyFrame
from .case_data import ImageChannels
from .embeddings import Orientation
from .priors import StructurePriors

SHELL_MM = 4.0
"""Width of the shell outside a mask where its surroundings are measured."""


@dataclass(frozen=True)
class CaseContext:
    """One study's images (normalised and raw), grid spacing per array axis, body frame and priors."""

    channels: ImageChannels
    spacing: tuple[float, float, float]
    body: BodyFrame
    orientation: Orientation
    priors: StructurePriors

    @classmethod
    def build(cls, channels: ImageChannels, priors: StructurePriors) -> CaseContext:
        geometry = channels.geometry
        body = BodyFrame.from_image(
            channels.raw[0].array, channels.normalised[0], geometry, modality=channels.modality
        )
        return cls(
            channels=channels,
            spacing=tuple(float(s) for s in geometry.array_spacing),
            body=body,
            orientation=Orientation.of(geometry),
            priors=priors,
        )

    @property
    def modality(self) -> str:
        return self.channels.modality

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.channels.geometry.array_shape

    def crop_margin(self) -> tuple[int, int, int]:
        """Voxels per axis that hold the shell and the gradient support around a mask."""
        return tuple(int(math.ceil((SHELL_MM + 2.0) / s)) + 1 for s in self.spacing)

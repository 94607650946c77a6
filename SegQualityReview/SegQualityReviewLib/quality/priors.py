"""Per-concept priors: how large a structure of that name is, where it lies, how bright it looks.

Built from reference structures of the training patients (volume, lateral offset, intensity per
sequence) and from labels-only sets that need no image (volumes: the DeepMind head-and-neck readers,
AMOS ``amos_0013``). A feature is the z-score of a candidate against its concept's prior; a concept
without a prior gives NaN, which the fusion treats as missing. The standard deviation is shrunk toward
a floor with two pseudo-observations, so a concept seen once does not claim a razor-thin prior.
Rebuilt per cross-validation fold without the held-out patient, so no figure uses its own reference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from .names import identify

# Floors of the prior SDs: log10 ml (0.15 = a factor of 1.4), half body widths, HU, normalised units.
SD_FLOORS = {"volume": 0.15, "lateral": 0.08, "intensity_ct": 20.0, "intensity_mr": 0.06}
_PSEUDO = 2.0


@dataclass(frozen=True)
class Prior:
    mean: float
    sd: float
    count: int

    def z(self, value: float) -> float:
        return (value - self.mean) / self.sd


@dataclass(frozen=True)
class Observation:
    """One reference structure's measurements; None where not measured (labels-only: volume only)."""

    name: str
    log_volume: float | None = None
    lateral: float | None = None
    intensity: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class StructurePriors:
    """Priors by concept (volume), by concept and side (lateral offset), by concept and sequence
    (median intensity inside: Hounsfield units for CT, normalised for MR)."""

    volume: Mapping[str, Prior] = field(default_factory=dict)
    lateral: Mapping[str, Prior] = field(default_factory=dict)
    intensity: Mapping[str, Prior] = field(default_factory=dict)

    @classmethod
    def build(cls, observations: Iterable[Observation]) -> StructurePriors:
        volume: dict[str, list[float]] = {}
        lateral: dict[str, list[float]] = {}
        intensity: dict[str, list[float]] = {}
        for item in observations:
            identity = identify(item.name)
            if item.log_volume is not None and math.isfinite(item.log_volume):
                volume.setdefault(identity.concept, []).append(item.log_volume)
            if item.lateral is not None and math.isfinite(item.lateral):
                lateral.setdefault(identity.key, []).append(item.lateral)
            for sequence, value in item.intensity.items():
                if math.isfinite(value):
                    intensity.setdefault(f"{identity.concept}|{sequence}", []).append(value)
        return cls(
            volume={k: _prior(v, SD_FLOORS["volume"]) for k, v in volume.items()},
            lateral={k: _prior(v, SD_FLOORS["lateral"]) for k, v in lateral.items()},
            intensity={
                k: _prior(v, SD_FLOORS["intensity_ct" if k.endswith("|CT") else "intensity_mr"])
                for k, v in intensity.items()
            },
        )

    def volume_z(self, name: str, log_volume: float) -> float:
        prior = self.volume.get(identify(name).concept)
        return prior.z(log_volume) if prior else math.nan

    def lateral_z(self, name: str, lateral: float) -> float:
        prior = self.lateral.get(identify(name).key)
        return prior.z(lateral) if prior else math.nan

    def intensity_z(self, name: str, sequence: str, value: float) -> float:
        prior = self.intensity.get(f"{identify(name).concept}|{sequence}")
        return prior.z(value) if prior else math.nan

    def as_dict(self) -> dict:
        return {
            part: {k: [p.mean, p.sd, p.count] for k, p in sorted(getattr(self, part).items())}
            for part in ("volume", "lateral", "intensity")
        }

    @classmethod
    def from_dict(cls, fields_: Mapping) -> StructurePriors:
        return cls(
            **{
                part: {k: Prior(float(m), float(s), int(c)) for k, (m, s, c) in fields_.get(part, {}).items()}
                for part in ("volume", "lateral", "intensity")
            }
        )


def _prior(values: list[float], floor: float) -> Prior:
    data = np.asarray(values, float)
    mean = float(data.mean())
    spread = float(((data - mean) ** 2).sum())
    sd = math.sqrt((spread + _PSEUDO * floor**2) / (data.size - 1 + _PSEUDO))
    return Prior(mean=mean, sd=max(sd, floor), count=int(data.size))


def labels_only_observations(shared_data: str | Path) -> list[Observation]:
    """Volumes of the labels-only sets: 17 head-and-neck patients x 2 readers, AMOS ``amos_0013``.

    Empty files (10 of the 714 head-and-neck masks) are skipped: a structure absent for one reader says
    nothing about its size.
    """
    from ..io import LabelMap, read_structures

    root = Path(shared_data)
    observations = []
    hn = root / "deepmind_hn_oar_labels_only"
    for file in sorted(hn.glob("*/*/*.nrrd")):
        structures = read_structures(file)
        mask = structures.layers[0] != 0
        if mask.any():
            observations.append(
                Observation(
                    file.stem, log_volume=math.log10(mask.sum() * structures.geometry.voxel_volume_ml)
                )
            )
    amos = root / "sam_med3d" / "amos_0013_labels_only" / "gt.nii.gz"
    if amos.is_file():
        structures = read_structures(amos, label_map=LabelMap.load(root / "labelmaps" / "amos.json"))
        for name in structures.names:
            count = int(structures.mask(name).sum())
            if count:
                observations.append(
                    Observation(name, log_volume=math.log10(count * structures.geometry.voxel_volume_ml))
                )
    return observations

"""Validated scoring options: surface definition, HD95 variant, NSD tolerances and device."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Union

import torch

from ..errors import SegQualityError
from ..io import normalize_structure_name
from .surface_summary import HD95_VARIANTS
from .surfaces import SURFACE_DEFINITIONS

DEFAULT_NSD_TOLERANCE_MM = 2.0

NsdTolerance = Union[float, Mapping[str, float]]


class MetricInputError(SegQualityError):
    """A scoring option or an input mask the metric core cannot use."""


@dataclass(frozen=True)
class ScoringOptions:
    """Options shared by every structure of one scoring call."""

    surface: str
    hd95: str
    device: torch.device
    compute_distances: bool
    nsd_tolerances_mm: Mapping[str, float]
    nsd_fallback_mm: float

    def nsd_tolerance_for(self, structure: str) -> float:
        """The structure's own tolerance (matched by normalised name), else the fallback."""
        return self.nsd_tolerances_mm.get(normalize_structure_name(structure), self.nsd_fallback_mm)


def scoring_options(
    *, nsd_tolerance_mm: NsdTolerance, surface: str, hd95: str, device: str, compute_distances: bool
) -> ScoringOptions:
    """Check the user's options and resolve ``device`` "auto" to cuda when available, else cpu."""
    if surface not in SURFACE_DEFINITIONS:
        raise MetricInputError(f"surface must be one of {', '.join(SURFACE_DEFINITIONS)}, not '{surface}'")
    if hd95 not in HD95_VARIANTS:
        raise MetricInputError(f"hd95 must be one of {', '.join(HD95_VARIANTS)}, not '{hd95}'")
    if isinstance(nsd_tolerance_mm, Mapping):
        tolerances = {normalize_structure_name(name): float(mm) for name, mm in nsd_tolerance_mm.items()}
        fallback = DEFAULT_NSD_TOLERANCE_MM
    else:
        tolerances, fallback = {}, float(nsd_tolerance_mm)
    for name, mm in list(tolerances.items()) + [("(default)", fallback)]:
        if not (math.isfinite(mm) and mm >= 0):
            raise MetricInputError(
                f"NSD tolerance for structure '{name}' must be a finite number of mm >= 0, not {mm}"
            )
    return ScoringOptions(
        surface=surface,
        hd95=hd95,
        device=_resolve_device(device),
        compute_distances=bool(compute_distances),
        nsd_tolerances_mm=tolerances,
        nsd_fallback_mm=fallback,
    )


def _resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as error:
        raise MetricInputError(f"device must be 'auto', 'cpu' or 'cuda', not '{device}'") from error
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise MetricInputError(f"device '{device}' was asked for but torch sees no CUDA device")
    if resolved.type not in ("cpu", "cuda"):
        raise MetricInputError(f"device must be 'auto', 'cpu' or 'cuda', not '{device}'")
    return resolved

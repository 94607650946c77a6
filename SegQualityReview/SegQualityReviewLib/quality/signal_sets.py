"""Which signals a structure's estimate rests on, and the fusion's input under each such set.

One fused model serves every situation: the full set (QC, the ViT head and the MedSAM second opinion),
the head without MedSAM (the cascade spent its decoding budget on other structures), QC alone (no
LiteMedSAM: Python 3.9, i.e. Slicer 5.6 and 5.8), each with or without other segmentations to agree
with. Training rows are repeated under every set the candidate allows, with the absent signals
missing, so the model learns each situation; each set gets its own conformal interval.
"""

from __future__ import annotations

import math
from typing import Mapping

from .signals import SIGNAL_FEATURES

BASE_SETS = ("medsam", "head", "classical")
SIGNAL_SETS = tuple(f"{base}{extra}" for base in BASE_SETS for extra in ("+agreement", ""))
_HEAD = SIGNAL_FEATURES["vit_head"]
_MEDSAM = SIGNAL_FEATURES["medsam"]
_AGREEMENT = SIGNAL_FEATURES["agreement"]


def _present(row: Mapping[str, float], names) -> bool:
    return any(row.get(n) is not None and math.isfinite(float(row[n])) for n in names)


def signal_set_of(row: Mapping[str, float]) -> str:
    """The set of signals a row holds."""
    if _present(row, _MEDSAM) and _present(row, _HEAD):
        base = "medsam"
    elif _present(row, _HEAD):
        base = "head"
    else:
        base = "classical"
    return base + ("+agreement" if _present(row, _AGREEMENT) else "")


def restrict(row: Mapping[str, float], signal_set: str) -> dict:
    """The row with the signals outside ``signal_set`` made missing."""
    restricted = dict(row)
    base = signal_set.split("+")[0]
    dropped = []
    if base in ("head", "classical"):
        dropped += _MEDSAM
    if base == "classical":
        dropped += _HEAD
    if "+agreement" not in signal_set:
        dropped += _AGREEMENT
    for name in dropped:
        restricted[name] = math.nan
    return restricted


def reachable_sets(row: Mapping[str, float]) -> list[str]:
    """Every signal set a row can be shown under (its own and every subset of it)."""
    own = signal_set_of(row)
    base = own.split("+")[0]
    bases = BASE_SETS[BASE_SETS.index(base) :]
    extras = ("+agreement", "") if own.endswith("+agreement") else ("",)
    return [b + e for b in bases for e in extras]

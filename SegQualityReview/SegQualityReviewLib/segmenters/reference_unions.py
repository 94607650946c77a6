"""Our coarse structure names as unions of TotalSegmentator's fine ones, so outputs compare by name.

TotalSegmentator splits the lungs into lobes and the skeleton into single bones, and v1 and v2 use
different label ids; these unions are defined on names, so they hold for both versions.
"""

from __future__ import annotations

import re

import numpy as np

from ..io import StructureSet, normalize_structure_name

# Regular expressions over TotalSegmentator names (v1 and v2), lower case with "_" between words, that make
# up each coarse structure.
TOTALSEGMENTATOR_UNIONS: dict[str, tuple[str, ...]] = {
    "lung_left": (r"lung_(upper|lower)_lobe_left",),
    "lung_right": (r"lung_(upper|middle|lower)_lobe_right",),
    "trachea": (r"trachea",),
    "bones": (
        r"vertebrae_[a-z]\d+",
        r"rib_(left|right)_\d+",
        r"sacrum",
        r"(hip|femur|humerus|scapula|clavicula)_(left|right)",
        r"sternum",
        r"skull",
    ),
}


def member_names(structure: str, available: tuple[str, ...]) -> tuple[str, ...]:
    """The names among ``available`` that make up ``structure`` (itself when it is no union)."""
    key = normalize_structure_name(structure)
    patterns = _UNIONS_BY_KEY.get(key)
    if patterns is None:
        return tuple(name for name in available if normalize_structure_name(name) == key)
    return tuple(name for name in available if any(re.fullmatch(p, _underscored(name)) for p in patterns))


# The unions by matching key; the patterns read names with their word separators kept, as "_".
_UNIONS_BY_KEY = {
    normalize_structure_name(name): patterns for name, patterns in TOTALSEGMENTATOR_UNIONS.items()
}


def _underscored(name: str) -> str:
    return re.sub(r"[\s\-_]+", "_", name.strip().lower())


def union_mask(structures: StructureSet, structure: str) -> np.ndarray | None:
    """The union of the members of ``structure`` in ``structures``; None when the set declares none of them."""
    members = member_names(structure, structures.names)
    if not members:
        return None
    union = np.zeros(structures.geometry.array_shape, dtype=bool)
    for name in members:
        union |= structures.mask(name)
    return union

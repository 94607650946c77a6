"""What a structure's name says about it: its side, its concept and a coarse group.

With a handful of training patients, a free embedding per name would learn nothing that carries to a
new name. What carries is what the name says in words: the side (``kidney_left``, ``Parotid-Lt``,
``right kidney``), the concept shared across label conventions (BraTS 2013 "necrosis" and BraTS 2020
"NCR/NET" are one tumour core; AMOS "postcava" is TotalSegmentator's inferior vena cava), and a coarse
group (bone, vessel, muscle, organ, and the tumour compartments). Priors are keyed by concept, so a
volume learnt from one convention applies to another, and a left-right swap shows as a side that
disagrees with the mask's position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

SIDES = {"left": 1, "lt": 1, "l": 1, "right": -1, "rt": -1, "r": -1}
"""Sign of the side in LPS: +1 is the patient's left (+x), -1 the right."""

GROUPS = (
    "organ",
    "bone",
    "vessel",
    "muscle",
    "lesion",
    "enhancing_tumor",
    "necrotic_core",
    "edema",
)
_IGNORED = {"gland", "glands", "and", "the", "of", "gd"}
_BONE = {
    "vertebrae",
    "vertebra",
    "rib",
    "hip",
    "femur",
    "humerus",
    "scapula",
    "clavicula",
    "clavicle",
    "sacrum",
    "skull",
    "mandible",
    "sternum",
    "costal",
    "bone",
    "bones",
}
_VESSEL = {"aorta", "vena", "artery", "vein", "iliac", "portal", "cava", "carotid", "brachiocephalic"}
_MUSCLE = {"gluteus", "iliopsoas", "autochthon", "muscle"}


@dataclass(frozen=True)
class StructureIdentity:
    """``concept`` (side removed, synonyms merged), ``side`` (+1 left, -1 right, 0 none) and ``group``."""

    concept: str
    side: int
    group: str

    @property
    def key(self) -> str:
        """Concept and side: the key of position priors (a left kidney lies elsewhere than a right one)."""
        return f"{self.concept}|{self.side:+d}" if self.side else self.concept


@lru_cache(maxsize=4096)
def identify(name: str) -> StructureIdentity:
    """The identity a structure name states, for any of the label conventions in use."""
    text = name.lower().replace("tumour", "tumor").replace("oedema", "edema")
    tokens = [t for t in re.split(r"[^a-z0-9]+", text) if t]
    side = 0
    kept = []
    for token in tokens:
        if token in SIDES:
            side = SIDES[token]
        elif token not in _IGNORED:
            kept.append(token)
    concept, group = _concept(kept)
    return StructureIdentity(concept=concept, side=side, group=group)


def _concept(tokens: list[str]) -> tuple[str, str]:
    words = set(tokens)
    if "enhancing" in words and not words & {"non", "necrotic", "ncr"}:
        return "enhancing_tumor", "enhancing_tumor"
    if words & {"necrosis", "necrotic", "ncr"} or {"non", "enhancing"} <= words:
        return "necrotic_core", "necrotic_core"
    if "edema" in words or tokens[:1] == ["ed"]:
        return "edema", "edema"
    if words & {"lesion", "roi", "tumor", "gtv", "mass", "nodule"}:
        return "lesion", "lesion"
    if "postcava" in words or {"vena", "cava", "inferior"} <= words:
        return "inferior_vena_cava", "vessel"
    if "bladder" in words and "gallbladder" not in words:
        return "urinary_bladder", "organ"
    concept = "_".join(tokens) or "structure"
    if words & _BONE:
        return concept, "bone"
    if words & _VESSEL:
        return concept, "vessel"
    if words & _MUSCLE:
        return concept, "muscle"
    return concept, "organ"


def partner_names(name: str, names: tuple[str, ...]) -> tuple[str, ...]:
    """The names among ``names`` with the same concept on the other side (``kidney_right`` for
    ``kidney_left``); empty for a name without a side."""
    own = identify(name)
    if not own.side:
        return ()
    return tuple(
        other
        for other in names
        if other != name and identify(other).concept == own.concept and identify(other).side == -own.side
    )

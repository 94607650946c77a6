"""Box prompts for the ``medsam`` segmenter: a voxel box, a physical (RAS) box, or an existing segment's boxes.

numpy only, so the CLI, the Slicer module and the prompt file can be checked without torch.

- ``VoxelBox(i0, j0, k0, i1, j1, k1)``: inclusive voxel indices in ITK order (i = column, j = row,
  k = slice), as ``--box`` takes them. Slices are the image's k planes (array axis 0); on each slice the
  2D box is ``(x0, y0, x1, y1) = (i0, j0, i1, j1)``, the pixel convention of ``medsam.mask_box``.
- ``voxel_box_from_ras``: ``--box-ras R0,A0,S0,R1,A1,S1``, two opposite corners (any order) of a box
  aligned with the RAS axes, in mm in RAS world coordinates: Slicer's frame, ``(-x, -y, z)`` of the
  file's LPS physical space (no Slicer transform applied). It covers every voxel whose centre lies in
  the box, edges included; on an oblique grid, the voxel-index box enclosing it. Clipped to the image.
- ``SliceBoxes``: one 2D box per slice, e.g. ``slice_boxes_from_mask`` (each slice an existing segment
  covers, its box grown by a margin).
- ``MedSAMPrompt``: what one run is prompted with, as the CLI options or the keys of a
  ``--model-config`` prompt file (JSON or YAML), and ``resolve(volume)`` to the boxes above.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..errors import SegQualityError
from ..io import Geometry, LabelMap, Volume, read_structures
from .base import SegmenterError

PROPAGATION_CHOICES = ("fixed", "propagate")
# Measured (benchmarks/bench_medsam.py, docs/segmenters.md): the same box on every slice gave a higher mean
# Dice than propagating from the middle slice in 5 of 6 reference x jitter groups; propagation lost most on
# thick slices (6.5 mm brain MR), where a structure moves further than the margin from slice to slice.
DEFAULT_PROPAGATION = "fixed"
DEFAULT_MARGIN_PX = 3
DEFAULT_STRUCTURE_NAME = "structure"
MODALITY_CHOICES = ("auto", "CT", "MR")
# A voxel centre this close (in voxels) to a RAS box face counts as inside: NIfTI stores origins in float32.
_INSIDE_TOLERANCE_VOXELS = 1e-3

# (x0, y0, x1, y1): inclusive slice pixels, x = column (i), y = row (j).
PixelBox = tuple[int, int, int, int]


class BoxPromptError(SegmenterError):
    """A box prompt is malformed, lies outside the image, or names a structure that has no voxels."""


@dataclass(frozen=True)
class VoxelBox:
    """An inclusive box of voxel indices in ITK order: i0..i1 columns, j0..j1 rows, k0..k1 slices."""

    i0: int
    j0: int
    k0: int
    i1: int
    j1: int
    k1: int

    @classmethod
    def parse(cls, text: str, *, option: str = "--box") -> VoxelBox:
        """``"I0,J0,K0,I1,J1,K1"`` (six integers); ``option`` names the source in the error."""
        values = _numbers(text, option=option, what="I0,J0,K0,I1,J1,K1")
        if any(not float(v).is_integer() for v in values):
            raise BoxPromptError(f"{option} {text}: voxel indices must be integers")
        box = cls(*(int(v) for v in values))
        if box.i0 > box.i1 or box.j0 > box.j1 or box.k0 > box.k1:
            raise BoxPromptError(
                f"{option} {text}: each first index must not exceed its second (I0<=I1, ...)"
            )
        return box

    @property
    def indices(self) -> tuple[int, int, int, int, int, int]:
        return (self.i0, self.j0, self.k0, self.i1, self.j1, self.k1)

    @property
    def pixel_box(self) -> PixelBox:
        """The 2D box it gives each of its slices."""
        return (self.i0, self.j0, self.i1, self.j1)

    @property
    def slices(self) -> range:
        return range(self.k0, self.k1 + 1)

    def check_inside(self, geometry: Geometry, *, image_name: str, option: str = "--box") -> None:
        """Raise ``BoxPromptError`` naming the image and its size unless every index lies on the grid."""
        lows, highs = self.indices[:3], self.indices[3:]
        for axis, (low, high, size) in enumerate(zip(lows, highs, geometry.size)):
            if low < 0 or high >= size:
                text = ",".join(str(v) for v in self.indices)
                raise BoxPromptError(
                    f"{option} {text}: {'ijk'[axis]} {low}..{high} lies outside {image_name} "
                    f"(size {geometry.size[0]} x {geometry.size[1]} x {geometry.size[2]}, indices from 0)"
                )


@dataclass(frozen=True)
class SliceBoxes:
    """One 2D ``(x0, y0, x1, y1)`` box per slice index k, the prompts of a segment-driven run."""

    boxes: Mapping[int, PixelBox]

    @property
    def slices(self) -> tuple[int, ...]:
        return tuple(sorted(self.boxes))


def voxel_box_from_ras(
    corners: Sequence[float], geometry: Geometry, *, image_name: str, option: str = "--box-ras"
) -> VoxelBox:
    """The voxel box of a RAS box given by two opposite corners ``(R0, A0, S0, R1, A1, S1)`` in mm.

    Each of the box's 8 corners is mapped to a continuous voxel index (voxel centres at whole indices,
    ITK's convention); the result spans the whole indices between their extremes on each axis, clipped
    to the image. For a grid aligned with the patient axes (flips and permutations included) that is
    exactly the voxels whose centres lie in the box.
    """
    if len(corners) != 6 or not all(math.isfinite(float(c)) for c in corners):
        raise BoxPromptError(f"{option}: expected six finite numbers R0,A0,S0,R1,A1,S1")
    first, second = np.asarray(corners[:3], dtype=float), np.asarray(corners[3:], dtype=float)
    ras_corners = np.array(
        [[(first, second)[pick][axis] for axis, pick in enumerate(choice)] for choice in np.ndindex(2, 2, 2)]
    )
    lps_corners = ras_corners * np.array([-1.0, -1.0, 1.0])
    to_index = np.linalg.inv(np.reshape(geometry.direction, (3, 3)) * np.asarray(geometry.spacing))
    continuous = (lps_corners - np.asarray(geometry.origin)) @ to_index.T
    low = np.ceil(continuous.min(axis=0) - _INSIDE_TOLERANCE_VOXELS).astype(int)
    high = np.floor(continuous.max(axis=0) + _INSIDE_TOLERANCE_VOXELS).astype(int)
    size = np.asarray(geometry.size)
    low, high = np.maximum(low, 0), np.minimum(high, size - 1)
    if (low > high).any():
        text = ",".join(f"{float(c):g}" for c in corners)
        raise BoxPromptError(f"{option} {text}: the box holds no voxel centre of {image_name}")
    return VoxelBox(*(int(v) for v in low), *(int(v) for v in high))


def slice_boxes_from_mask(mask: np.ndarray, *, margin_px: int = DEFAULT_MARGIN_PX) -> SliceBoxes:
    """The box of each slice a (z, y, x) mask covers, grown by ``margin_px`` within the slice."""
    from .medsam import mask_box

    boxes = {}
    for k in np.flatnonzero(mask.any(axis=(1, 2))):
        boxes[int(k)] = mask_box(mask[k], margin=margin_px)
    return SliceBoxes(boxes=boxes)


@dataclass(frozen=True)
class MedSAMPrompt:
    """What a ``medsam`` run is prompted with: exactly one of ``box``, ``box_ras`` or ``boxes_from``.

    ``structure`` names the output structure and, with ``boxes_from``, the segment whose per-slice boxes
    prompt each slice it covers (``boxes_labels``: its label-map JSON; by default ``<SEG>.labels.json``
    when present). ``propagation`` applies to 3D boxes: ``fixed`` (default) prompts every slice with the
    same box; ``propagate`` prompts the box's middle slice with the box, then each neighbour with the
    previous slice's result box grown by ``margin_px``, stopping where the mask vanishes. ``margin_px``
    also grows a segment's per-slice boxes. ``record``: where the run writes its boxes and predicted IoU (JSON).
    """

    box: VoxelBox | None = None
    box_ras: tuple[float, ...] | None = None
    boxes_from: Path | None = None
    boxes_labels: Path | None = None
    structure: str | None = None
    propagation: str = DEFAULT_PROPAGATION
    margin_px: int = DEFAULT_MARGIN_PX
    modality: str = "auto"
    record: Path | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        given = [name for name in ("box", "box_ras", "boxes_from") if getattr(self, name) is not None]
        if len(given) != 1:
            raise BoxPromptError(
                "model 'medsam' needs exactly one prompt: --box I0,J0,K0,I1,J1,K1, --box-ras "
                f"R0,A0,S0,R1,A1,S1 or --boxes-from SEG --structure NAME (got {len(given)})"
            )
        if self.boxes_from is not None and not self.structure:
            raise BoxPromptError(
                f"--boxes-from {self.boxes_from}: --structure NAME says which segment to use"
            )
        if self.boxes_labels is not None and self.boxes_from is None:
            raise BoxPromptError("--boxes-labels only applies with --boxes-from")
        if self.propagation not in PROPAGATION_CHOICES:
            raise BoxPromptError(
                f"propagation '{self.propagation}' is not one of {', '.join(PROPAGATION_CHOICES)}"
            )
        if isinstance(self.margin_px, bool) or not isinstance(self.margin_px, int) or self.margin_px < 0:
            raise BoxPromptError(f"box margin {self.margin_px!r} must be a whole number of pixels >= 0")
        if self.modality not in MODALITY_CHOICES:
            raise BoxPromptError(f"modality '{self.modality}' is not one of {', '.join(MODALITY_CHOICES)}")

    @property
    def structure_name(self) -> str:
        """The name the output structure gets."""
        return self.structure or DEFAULT_STRUCTURE_NAME

    @property
    def source_files(self) -> tuple[Path, ...]:
        """Files the run reads besides the image (must stay unchanged, and are never overwritten)."""
        return tuple(p for p in (self.boxes_from, self.boxes_labels) if p is not None)

    def resolve(self, volume: Volume) -> VoxelBox | SliceBoxes:
        """The boxes on ``volume``'s grid: a checked ``VoxelBox``, or a segment's ``SliceBoxes``."""
        if self.box is not None:
            self.box.check_inside(volume.geometry, image_name=volume.source)
            return self.box
        if self.box_ras is not None:
            return voxel_box_from_ras(self.box_ras, volume.geometry, image_name=volume.source)
        return slice_boxes_from_mask(self._segment_mask(volume), margin_px=self.margin_px)

    def _segment_mask(self, volume: Volume) -> np.ndarray:
        labels = self.boxes_labels if self.boxes_labels is not None else _label_map_beside(self.boxes_from)
        structures = read_structures(
            self.boxes_from,
            label_map=LabelMap.load(labels) if labels is not None else None,
            reference=volume.geometry,
            reference_name=volume.source,
        )
        name = structures.find(self.structure)
        if name is None:
            raise BoxPromptError(
                f"{self.boxes_from}: no structure named '{self.structure}' (it has: {', '.join(structures.names)})"
            )
        mask = structures.mask(name)
        if not mask.any():
            raise BoxPromptError(f"{self.boxes_from}: structure '{name}' is empty, so it gives no boxes")
        return mask

    # The prompt file: the CLI options as JSON keys, read back by the worker through --model-config.

    def as_config(self) -> dict:
        """The prompt as a JSON-ready mapping, the keys ``from_config`` reads; paths made absolute."""
        config: dict = {
            "propagation": self.propagation,
            "margin_px": self.margin_px,
            "modality": self.modality,
        }
        if self.box is not None:
            config["box"] = list(self.box.indices)
        if self.box_ras is not None:
            config["box_ras"] = [float(v) for v in self.box_ras]
        for key in ("boxes_from", "boxes_labels", "record"):
            if getattr(self, key) is not None:
                config[key] = str(Path(getattr(self, key)).resolve())
        if self.structure is not None:
            config["structure"] = self.structure
        return config

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.as_config(), indent=1) + "\n", encoding="utf-8")
        return path

    @classmethod
    def from_config(cls, content: object, *, source: str) -> MedSAMPrompt:
        """A prompt from a parsed prompt file; unknown keys and wrong types are errors naming ``source``."""
        if not isinstance(content, Mapping):
            raise BoxPromptError(
                f"{source}: a medsam prompt file must be a mapping (box, box_ras or boxes_from)"
            )
        known = {"box", "box_ras", "boxes_from", "boxes_labels", "structure", "propagation"}
        known |= {"margin_px", "modality", "record"}
        unknown = sorted(set(content) - known)
        if unknown:
            raise BoxPromptError(
                f"{source}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})"
            )
        try:
            box = content.get("box")
            if box is not None:
                box = VoxelBox.parse(",".join(str(v) for v in _sequence(box)), option=f"{source}: box")
            box_ras = content.get("box_ras")
            if box_ras is not None:
                box_ras = tuple(float(v) for v in _sequence(box_ras))
            paths = {key: content.get(key) for key in ("boxes_from", "boxes_labels", "record")}
            root = Path(source).parent
            paths = {key: None if value is None else root / Path(str(value)) for key, value in paths.items()}
            return cls(
                box=box,
                box_ras=box_ras,
                structure=None if content.get("structure") is None else str(content["structure"]),
                propagation=str(content.get("propagation", DEFAULT_PROPAGATION)),
                margin_px=content.get("margin_px", DEFAULT_MARGIN_PX),
                modality=str(content.get("modality", "auto")),
                **paths,
            )
        except (TypeError, ValueError) as error:
            raise BoxPromptError(f"{source}: {error}") from None

    @classmethod
    def load(cls, path: str | Path) -> MedSAMPrompt:
        """Read a prompt file (JSON, or YAML for ``.yaml``/``.yml``)."""
        path = Path(path)
        if not path.is_file():
            raise BoxPromptError(f"{path}: medsam prompt file not found")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise BoxPromptError(f"{path}: cannot read the prompt file ({error})") from None
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            try:
                content = yaml.safe_load(text)
            except yaml.YAMLError as error:
                raise BoxPromptError(f"{path}: not valid YAML ({' '.join(str(error).split())})") from None
        else:
            try:
                content = json.loads(text)
            except json.JSONDecodeError as error:
                raise BoxPromptError(f"{path}: not valid JSON ({error})") from None
        return cls.from_config(content, source=str(path))

    def with_record(self, record: Path | None) -> MedSAMPrompt:
        return replace(self, record=record)


def parse_ras_corners(text: str, *, option: str = "--box-ras") -> tuple[float, ...]:
    """``"R0,A0,S0,R1,A1,S1"`` in mm as six floats."""
    return tuple(_numbers(text, option=option, what="R0,A0,S0,R1,A1,S1"))


def _numbers(text: str, *, option: str, what: str) -> list[float]:
    parts = [part.strip() for part in str(text).split(",")]
    try:
        values = [float(part) for part in parts]
    except ValueError:
        values = []
    if len(values) != 6 or not all(math.isfinite(v) for v in values):
        raise BoxPromptError(f"{option} {text}: expected six comma-separated numbers {what}")
    return values


def _sequence(value: object) -> list:
    if isinstance(value, str):
        return [part for part in value.split(",")]
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"expected a list of six numbers, got {value!r}")
    return list(value)


def _label_map_beside(path: Path) -> Path | None:
    """``S.labels.json`` beside ``S.nii.gz`` (as ``segquality segment`` writes it) when it exists."""
    from .output import label_map_path_for

    try:
        beside = label_map_path_for(path)
    except SegQualityError:  # not a label-image name, so nothing can lie beside it
        return None
    return beside if beside.is_file() else None

"""Predictions already on disk, used as a segmenter: a label file, a folder of per-case files, or binary masks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputFileError
from ..io import LabelMap, StructureSet, Volume, read_structure_folder, read_structures
from .base import RunControl
from .output import label_map_path_for

_LABEL_SUFFIXES = (".nii.gz", ".nii", ".seg.nrrd", ".nrrd", ".mha", ".mhd")


@dataclass(frozen=True)
class ExistingMasksSegmenter:
    """Reads predictions instead of computing them, so stored model outputs join comparisons like live models.

    ``path`` is a label image, a folder holding one label image per case (named after the image file,
    e.g. ``case7.nii.gz`` for ``images/case7.nii.gz``), or a folder of binary masks, one per structure.
    ``label_map`` names the label values (default: ``<file>.labels.json`` beside the label image, if any).
    """

    path: Path
    label_map: Path | None = None
    name: str = "masks"
    version: str = ""
    training_datasets: tuple[str, ...] = ()
    structures: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        path = Path(self.path)
        object.__setattr__(self, "path", path)
        if not path.exists():
            raise InputFileError(f"{path}: prediction file or folder not found")
        object.__setattr__(self, "structures", self._declared_structures())

    def run(self, volume: Volume, *, control: RunControl | None = None) -> StructureSet:
        """The stored prediction for ``volume``, checked to lie on its grid (reoriented when only axes flip)."""
        control = control or RunControl()
        control.report(0.0, f"reading {self.path.name}")
        source = self._file_for(volume)
        if source.is_dir():
            structures = read_structure_folder(source, reference=volume.geometry)
        else:
            structures = read_structures(
                source,
                label_map=self._label_map_for(source),
                reference=volume.geometry,
                reference_name=volume.source,
            )
        control.report(1.0, "done")
        return structures

    def _file_for(self, volume: Volume) -> Path:
        if self.path.is_file() or not self._holds_label_images_per_case():
            return self.path
        case = _strip_suffix(Path(volume.source).name)
        for suffix in _LABEL_SUFFIXES:
            candidate = self.path / f"{case}{suffix}"
            if candidate.is_file():
                return candidate
        raise InputFileError(
            f"{self.path}: no prediction named {case}.nii.gz (or .nrrd, .mha) for {volume.source}"
        )

    def _holds_label_images_per_case(self) -> bool:
        """A folder with label-map JSONs beside its images, or with a label map given, holds one file per case."""
        return self.label_map is not None or any(self.path.glob("*.labels.json"))

    def _label_map_for(self, source: Path) -> LabelMap | None:
        if self.label_map is not None:
            return LabelMap.load(self.label_map)
        beside = label_map_path_for(source)
        return LabelMap.load(beside) if beside.is_file() else None

    def _declared_structures(self) -> tuple[str, ...]:
        if self.label_map is not None:
            return LabelMap.load(self.label_map).names
        if self.path.is_file():
            beside = label_map_path_for(self.path)
            return LabelMap.load(beside).names if beside.is_file() else read_structures(self.path).names
        if self._holds_label_images_per_case():
            return LabelMap.load(next(iter(sorted(self.path.glob("*.labels.json"))))).names
        return read_structure_folder(self.path).names


def _strip_suffix(name: str) -> str:
    for suffix in _LABEL_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return Path(name).stem

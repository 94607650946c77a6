"""TotalSegmentator (optional package) as a segmenter: its Python API, its own label maps, its training data.

v1 and v2 number their labels differently (v1 id 7 = aorta, v2 id 7 = pancreas), so names are always
taken from the installed package's ``class_map``; outputs are read back by those names.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import SimpleITK as sitk

from ..io import LabelMap, StructureSet, Volume, read_structures
from .base import RunControl, SegmenterError, SegmenterUnavailableError
from .devices import resolve_device

INSTALL_HINT = "pip install TotalSegmentator (inside Slicer: the TotalSegmentator extension)"
# Weight folders each task needs, by major version (nnU-Net dataset/task ids of TotalSegmentator's releases).
_WEIGHT_FOLDERS = {
    (1, False): ("Task251", "Task252", "Task253", "Task254", "Task255"),
    (1, True): ("Task256",),
    (2, False): ("Dataset291", "Dataset292", "Dataset293", "Dataset294", "Dataset295"),
    (2, True): ("Dataset297",),
}
TRAINING_DATASETS = {1: ("TotalSegmentator-v1 (1204 CT)",), 2: ("TotalSegmentator-v2 (1228 CT)",)}


def installed_version() -> str | None:
    """The installed TotalSegmentator version, or None; read from package metadata without importing it."""
    for distribution in ("TotalSegmentator", "totalsegmentator"):
        try:
            return importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def weights_folder() -> Path:
    """Where TotalSegmentator keeps its nnU-Net weights ($TOTALSEG_WEIGHTS_PATH, else under $TOTALSEG_HOME_DIR)."""
    if os.environ.get("TOTALSEG_WEIGHTS_PATH"):
        return Path(os.environ["TOTALSEG_WEIGHTS_PATH"])
    home = Path(os.environ.get("TOTALSEG_HOME_DIR", Path.home() / ".totalsegmentator"))
    return home / "nnunet" / "results"


def check_totalsegmentator_ready(*, fast: bool) -> int:
    """The installed major version; raise ``SegmenterUnavailableError`` saying how to install what is missing."""
    version = installed_version()
    if version is None or importlib.util.find_spec("totalsegmentator") is None:
        raise SegmenterUnavailableError(f"TotalSegmentator is not installed: {INSTALL_HINT}")
    major = 1 if version.startswith("1.") else 2
    folder = weights_folder()
    missing = [prefix for prefix in _WEIGHT_FOLDERS[(major, fast)] if not _has_weight_folder(folder, prefix)]
    if missing:
        task = "total_fast" if fast else "total"
        raise SegmenterUnavailableError(
            f"TotalSegmentator {version} weights for task '{task}' are not in {folder} (missing {', '.join(missing)}): "
            f"run `totalseg_download_weights -t {task}` once with internet access"
        )
    return major


def label_map_from_class_map(class_map: Mapping[Any, str], *, source: str) -> LabelMap:
    """A ``LabelMap`` from a TotalSegmentator ``class_map[task]`` table (integer ids to names)."""
    return LabelMap(
        names_by_value={int(value): str(name) for value, name in class_map.items()}, source=source
    )


def call_arguments(
    *, major: int, input_path: Path, output_path: Path, fast: bool, device: str
) -> dict[str, Any]:
    """Keyword arguments for ``totalsegmentator.python_api.totalsegmentator`` of this major version.

    ``ml=True`` asks for one multi-label file; v2 takes ``device`` ("gpu" or "cpu"), v1 has no such option.
    """
    arguments: dict[str, Any] = {
        "input": input_path,
        "output": output_path,
        "ml": True,
        "fast": fast,
        "task": "total",
    }
    if major >= 2:
        arguments["device"] = "gpu" if device == "cuda" else "cpu"
        arguments["quiet"] = True
    return arguments


@dataclass(frozen=True)
class TotalSegmentatorSegmenter:
    """TotalSegmentator task ``total`` (``fast``: the 3 mm model), run through its Python API on a temporary file."""

    major: int
    fast: bool
    device: str
    label_map: LabelMap
    name: str = "totalsegmentator"
    version: str = ""
    training_datasets: tuple[str, ...] = field(default=())

    @property
    def structures(self) -> tuple[str, ...]:
        return self.label_map.names

    @classmethod
    def create(cls, *, fast: bool = False, device: str = "auto") -> TotalSegmentatorSegmenter:
        """Check the package and weights, and take the label names from the installed package's class map."""
        major = check_totalsegmentator_ready(fast=fast)
        class_map = importlib.import_module("totalsegmentator.map_to_binary").class_map["total"]
        return cls(
            major=major,
            fast=fast,
            device=resolve_device(device),
            label_map=label_map_from_class_map(
                class_map, source=f"TotalSegmentator {installed_version()} class_map"
            ),
            name="totalsegmentator-fast" if fast else "totalsegmentator",
            version=installed_version() or "",
            training_datasets=TRAINING_DATASETS[major],
        )

    def run(self, volume: Volume, *, control: RunControl | None = None) -> StructureSet:
        control = control or RunControl()
        api = importlib.import_module("totalsegmentator.python_api")
        with tempfile.TemporaryDirectory(prefix="segquality-totalseg-") as workspace:
            input_path = Path(workspace) / "image.nii.gz"
            output_path = Path(workspace) / "segmentation.nii.gz"
            control.report(0.0, "writing the input for TotalSegmentator")
            _write_volume(volume, input_path)
            control.report(0.1, "TotalSegmentator running")
            arguments = call_arguments(
                major=self.major,
                input_path=input_path,
                output_path=output_path,
                fast=self.fast,
                device=self.device,
            )
            try:
                api.totalsegmentator(**arguments)
            except Exception as error:
                raise SegmenterError(f"TotalSegmentator failed on {volume.source}: {error}") from error
            control.report(0.9, "reading TotalSegmentator's output")
            return read_totalsegmentator_output(output_path, label_map=self.label_map, volume=volume)


def read_totalsegmentator_output(path: Path, *, label_map: LabelMap, volume: Volume) -> StructureSet:
    """Read a multi-label TotalSegmentator file by name, on the input's grid (axis flips are undone)."""
    if not Path(path).is_file():
        raise SegmenterError(f"TotalSegmentator wrote no output at {path}")
    return read_structures(path, label_map=label_map, reference=volume.geometry, reference_name=volume.source)


def _write_volume(volume: Volume, path: Path) -> None:
    image = sitk.GetImageFromArray(volume.array)
    volume.geometry.apply_to(image)
    sitk.WriteImage(image, str(path))


def _has_weight_folder(folder: Path, prefix: str) -> bool:
    if not folder.is_dir():
        return False
    return any(path.name.startswith(prefix) for path in folder.rglob(f"{prefix}*") if path.is_dir())

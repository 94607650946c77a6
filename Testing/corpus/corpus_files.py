"""Small input files for the bad-input corpus: good label images, volumes and label maps, and broken ones."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import nrrd
import numpy as np
import SimpleITK as sitk

SHAPE = (6, 7, 8)  # (z, y, x)
LABELS = {"1": "liver", "2": "spleen"}


def reference_labels() -> np.ndarray:
    """Two structures: label 1 a block, label 2 a smaller block, on SHAPE."""
    labels = np.zeros(SHAPE, dtype=np.uint8)
    labels[1:4, 1:5, 1:5] = 1
    labels[3:5, 4:6, 5:7] = 2
    return labels


def write_image(
    path: Path,
    array: np.ndarray,
    *,
    spacing: Sequence[float] = (1.0, 1.0, 2.0),
    origin: Sequence[float] = (0.0, 0.0, 0.0),
    direction: Sequence[float] | None = None,
    vector: bool = False,
) -> Path:
    """Write ``array`` ((z, y, x), or 2D) with SimpleITK; spacing and origin in (x, y, z)."""
    image = sitk.GetImageFromArray(array, isVector=vector)
    dimension = image.GetDimension()
    image.SetSpacing(tuple(spacing)[:dimension])
    image.SetOrigin(tuple(origin)[:dimension])
    if direction is not None:
        image.SetDirection(direction)
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(image, str(path))
    return path


def write_labels(path: Path, array: np.ndarray | None = None, **geometry) -> Path:
    return write_image(path, reference_labels() if array is None else array, **geometry)


def write_volume(path: Path, **geometry) -> Path:
    """A CT-like intensity volume on SHAPE: air outside, soft tissue inside."""
    rng = np.random.default_rng(0)
    volume = np.full(SHAPE, -1000.0, dtype=np.float32)
    volume[1:5, 1:6, 1:7] = 40.0 + rng.normal(0, 5, size=(4, 5, 6))
    return write_image(path, volume, **geometry)


def write_label_map(path: Path, content=None, *, raw: bytes | str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if raw is not None:
        path.write_bytes(raw.encode("utf-8") if isinstance(raw, str) else raw)
    else:
        path.write_text(json.dumps({"labels": LABELS} if content is None else content), encoding="utf-8")
    return path


def write_seg_nrrd(
    path: Path, layers: np.ndarray, segments: Sequence[tuple], extra: dict | None = None
) -> Path:
    """A Slicer .seg.nrrd: ``layers`` (z, y, x) or (layer, z, y, x); ``segments`` (name, layer, value)."""
    header = {"space": "left-posterior-superior", "space origin": np.zeros(3)}
    steps = np.diag([1.0, 1.0, 2.0])
    if layers.ndim == 4:
        header["space directions"] = np.vstack([np.full(3, np.nan), steps])
        header["kinds"] = ["list", "domain", "domain", "domain"]
        data = layers.transpose(0, 3, 2, 1)
    else:
        header["space directions"] = steps
        data = layers.transpose(2, 1, 0)
    for index, (name, layer, value) in enumerate(segments):
        header[f"Segment{index}_ID"] = f"Segment_{index + 1}"
        header[f"Segment{index}_Name"] = name
        header[f"Segment{index}_Layer"] = str(layer)
        header[f"Segment{index}_LabelValue"] = str(value)
    header.update(extra or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    nrrd.write(str(path), data, header)
    return path


def truncate(path: Path, keep: int) -> Path:
    """Cut a written file to its first ``keep`` bytes (a broken download)."""
    data = path.read_bytes()
    path.write_bytes(data[:keep])
    return path


def broken_file(path: Path, kind: str) -> Path:
    """A file at ``path`` that is not a readable image, of the given kind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("this is not an image\n", encoding="utf-8")
    elif kind == "random":
        path.write_bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    elif kind == "truncated":
        write_labels(path)
        truncate(path, max(40, os.path.getsize(path) // 3))
    elif kind == "folder":
        path.mkdir()
    else:
        raise ValueError(kind)
    return path


def mask_array(kind: str) -> np.ndarray:
    """A label array a mask cannot be: NaN, infinite, fractional, negative, beyond exact integers, complex."""
    labels = reference_labels()
    if kind == "nan":
        array = labels.astype(np.float32)
        array[0, 0, 0] = np.nan
    elif kind == "inf":
        array = labels.astype(np.float64)
        array[0, 0, 0] = np.inf
    elif kind == "fraction":
        array = labels.astype(np.float32) * 0.5
    elif kind == "negative":
        array = labels.astype(np.int16)
        array[0, 0, 0] = -3
    elif kind == "float_huge":
        array = labels.astype(np.float64)
        array[0, 0, 0] = 1e20
    elif kind == "uint64_huge":
        array = labels.astype(np.uint64)
        array[0, 0, 0] = np.uint64(2**63 + 5)
    elif kind == "complex":
        array = labels.astype(np.complex64)
    else:
        raise ValueError(kind)
    return array


def hash_tree(paths: Sequence[Path], *, skip: Sequence[Path] = ()) -> dict[str, str]:
    """sha256 of every file under ``paths`` (following links), except under ``skip``: the inputs' fingerprint."""
    import hashlib

    skipped = [Path(os.path.abspath(s)) for s in skip]
    found = {}
    for root in paths:
        root = Path(root)
        candidates = [root] if root.is_file() else sorted(p for p in root.rglob("*"))
        for file in candidates:
            absolute = Path(os.path.abspath(file))
            if any(absolute == s or s in absolute.parents for s in skipped):
                continue
            if any(
                part.startswith(".") and ".partial-" in part or part.endswith(".cache")
                for part in absolute.parts
            ):
                continue
            if file.is_file():
                found[str(absolute)] = hashlib.sha256(file.read_bytes()).hexdigest()
            elif file.is_dir():
                found[str(absolute)] = "folder"
    return found

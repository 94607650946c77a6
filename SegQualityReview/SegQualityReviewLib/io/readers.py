"""Reading volumes and label images (NIfTI, NRRD, .seg.nrrd, MHA, DICOM series) with clear errors."""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import SimpleITK as sitk

from ..errors import GeometryMismatchError, ImageValueError, InputFileError, MaskValueError
from .geometry import Geometry, check_same_geometry, same_voxel_centres
from .labelmaps import LabelMap
from .slicer_segmentation import read_slicer_segmentation
from .structures import StructureSet, Volume

logger = logging.getLogger(__name__)
_MASK_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".mha", ".mhd")
# Float label images above this cannot hold exact integers (float64 has a 53-bit mantissa).
_LARGEST_LABEL = 2.0**53


def read_image(path: str | Path) -> sitk.Image:
    """Read an image file, or a folder holding one DICOM series, as a 3D SimpleITK image (2D: one slice)."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path}: file not found")
    with native_messages() as said:
        try:
            image = _read_dicom_series(path) if path.is_dir() else sitk.ReadImage(str(path))
        except RuntimeError:
            image = None
    if image is None:
        detail = f" ({'; '.join(said)})" if said else ""
        raise InputFileError(f"{path}: not a readable image (NIfTI, NRRD, MHA or a DICOM folder){detail}")
    if said:
        logger.warning("%s: the image reader said: %s", path, "; ".join(said))
    if image.GetDimension() not in (2, 3):
        size = " x ".join(str(n) for n in image.GetSize())
        raise InputFileError(f"{path}: a {image.GetDimension()}D image ({size}); expected a 2D or 3D one")
    if image.GetNumberOfPixels() == 0:
        raise InputFileError(f"{path}: the image has no voxels")
    # One slice of a 2D image (spacing 1 and origin 0 along z), so every image here is 3D.
    return sitk.JoinSeries([image]) if image.GetDimension() == 2 else image


def read_volume(path: str | Path) -> Volume:
    """Read an intensity image as a float32 (z, y, x) array with its geometry (may hold NaN: see
    ``check_finite_volume``)."""
    image = read_image(path)
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise InputFileError(
            f"{path}: expected a scalar image, found {image.GetNumberOfComponentsPerPixel()} components "
            "(an RGB or vector image?)"
        )
    array = sitk.GetArrayFromImage(image)
    if array.dtype.kind == "c":
        raise InputFileError(f"{path}: complex voxels ({array.dtype}); expected a real-valued image")
    array = array.astype(np.float32, copy=False)
    return Volume(array=_as_3d(array), geometry=Geometry.from_sitk(image), source=str(path))


def check_finite_volume(volume: Volume) -> None:
    """Raise ``ImageValueError`` when an intensity image holds NaN or infinite voxels.

    Networks turn such voxels into NaN outputs, and a NaN quality estimate is never flagged, which would
    hide the structure from review; the estimator and the Slicer Logic call this before estimating.
    """
    finite = np.isfinite(volume.array)
    if finite.all():
        return
    nan = int(np.isnan(volume.array).sum())
    infinite = int(finite.size - finite.sum()) - nan
    raise ImageValueError(
        f"{volume.source}: the image holds {nan} NaN and {infinite} infinite voxels of {finite.size}; "
        "a quality estimate on it would be meaningless (fill or mask them first)"
    )


def read_structures(
    path: str | Path,
    *,
    label_map: LabelMap | str | Path | None = None,
    reference: Geometry | None = None,
    reference_name: str = "the reference",
    resample: bool = False,
    trust_reference_geometry: bool = False,
) -> StructureSet:
    """Read a label image (or a Slicer ``.seg.nrrd``) as named structures.

    Without ``label_map`` every non-zero value becomes ``label_<value>`` (and every value counts as
    declared: ``StructureSet.implicit_labels``); with one, a value it does not name is an error. With
    ``reference`` the grid must match it, unless ``resample`` is set (the labels are resampled onto the
    reference grid by nearest neighbour) or ``trust_reference_geometry`` is (the file's header is taken
    to be wrong: on the same voxel matrix, the reference's spacing, origin and direction replace it).
    """
    path = Path(path)
    if resample and trust_reference_geometry:
        raise GeometryMismatchError(
            f"{path}: resampling and trusting the reference geometry exclude each other; choose one"
        )
    if isinstance(label_map, (str, Path)):
        label_map = LabelMap.load(label_map)
    image = read_image(path)
    if reference is not None:
        image = _onto_reference(
            image, reference, path=path, reference_name=reference_name, resample=resample,
            trust=trust_reference_geometry,
        )  # fmt: skip
    if path.name.lower().endswith(".seg.nrrd"):
        return read_slicer_segmentation(path, image, label_map, label_array=_label_array)
    labels = _label_array(path, sitk.GetArrayFromImage(_scalar(path, image)))
    return StructureSet.from_label_array(
        labels, Geometry.from_sitk(image), label_map=label_map, source=str(path)
    )


def read_structure_folder(
    folder: str | Path,
    *,
    reference: Geometry | None = None,
    reference_name: str = "the reference",
    trust_reference_geometry: bool = False,
) -> StructureSet:
    """Read a folder of binary masks, one file per structure named after the file (may overlap).

    ``trust_reference_geometry`` gives every mask the reference's geometry when it has the same voxel
    matrix (see ``read_structures``).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputFileError(f"{folder}: folder not found")
    files = sorted(p for p in folder.iterdir() if p.name.lower().endswith(_MASK_SUFFIXES))
    if not files:
        raise InputFileError(f"{folder}: holds no mask files ({', '.join(_MASK_SUFFIXES)})")
    masks, geometry = {}, reference
    for file in files:
        image = read_image(file)
        if reference is not None and trust_reference_geometry:
            image = _onto_reference(
                image, reference, path=file, reference_name=reference_name, resample=False, trust=True
            )
        file_geometry = Geometry.from_sitk(image)
        if geometry is None:
            geometry, first = file_geometry, file
        else:
            check_same_geometry(
                file_geometry,
                geometry,
                first_name=str(file),
                second_name=str(first if reference is None else reference_name),
            )
        labels = _label_array(file, sitk.GetArrayFromImage(_scalar(file, image)))
        masks[_stem(file)] = _binary_mask(file, labels)
    return StructureSet.from_masks(masks, geometry, source=str(folder))


def _binary_mask(path: Path, labels: np.ndarray) -> np.ndarray:
    """The foreground of a non-negative label array once it is checked to hold one value, without sorting
    (np.unique took 3 s on one 512x512x159 mask; the demo reads 714 of them). A 0/1 one-byte mask, the
    usual case, becomes its boolean view at the cost of one max."""
    top = labels.max() if labels.size else 0
    if top == 1 and labels.dtype.itemsize == 1:
        return labels.view(bool)
    mask = labels != 0
    if top > 0:
        foreground = labels[mask]
        if (foreground != top).any():
            values = np.unique(foreground)[:4]
            raise MaskValueError(f"{path}: expected a binary mask, found values {[0, *values.tolist()]}")
    return mask


def _read_dicom_series(folder: Path) -> sitk.Image:
    reader = sitk.ImageSeriesReader()
    series = reader.GetGDCMSeriesIDs(str(folder))
    if not series:
        raise InputFileError(f"{folder}: a folder, but it holds no DICOM series")
    if len(series) > 1:
        raise InputFileError(f"{folder}: holds {len(series)} DICOM series; point to a folder with one")
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder), series[0]))
    try:
        return reader.Execute()
    except RuntimeError as error:
        raise InputFileError(
            f"{folder}: the DICOM series could not be read ({str(error).strip().splitlines()[-1]})"
        ) from None


@contextmanager
def native_messages() -> Iterator[list[str]]:
    """Collect what ITK's C++ readers print straight to the process's stderr while the block runs.

    MetaIO and GDCM write there directly (a truncated .mha prints two lines before the read fails), which
    would split a one-line error; the lines are collected, whitespace-joined, into the yielded list once
    the block ends. Where stderr is no real file descriptor (a GUI without a console) nothing is collected.
    """
    said: list[str] = []
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield said
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield said
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode("utf-8", errors="replace")
            said.extend(" ".join(line.split()) for line in text.splitlines() if line.strip())


def _onto_reference(
    image: sitk.Image, reference: Geometry, *, path: Path, reference_name: str, resample: bool, trust: bool
) -> sitk.Image:
    """``image`` on the reference grid: as it is, losslessly reoriented, resampled, or with the reference's
    geometry copied onto its header; else a ``GeometryMismatchError`` naming both files."""
    geometry = Geometry.from_sitk(image)
    if not geometry.differences(reference):
        return image
    if same_voxel_centres(geometry, reference) or resample:
        return _resample_nearest(image, reference)
    if trust:
        if geometry.size != reference.size:
            raise GeometryMismatchError(
                f"{path} and {reference_name} have different voxel matrices ({geometry.size} vs "
                f"{reference.size}), so --trust-gt-geometry cannot apply; --resample-pred resamples instead"
            )
        trusted = sitk.Image(image)
        reference.apply_to(trusted)
        return trusted
    check_same_geometry(geometry, reference, first_name=str(path), second_name=reference_name)
    return image


def _scalar(path: Path, image: sitk.Image) -> sitk.Image:
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise MaskValueError(
            f"{path}: expected a label image, found {image.GetNumberOfComponentsPerPixel()} components "
            "per voxel (an RGB or vector image?)"
        )
    return image


def _label_array(path: Path, array: np.ndarray) -> np.ndarray:
    """A label array as non-negative integers, whatever the stored voxel type; one clear error otherwise."""
    array = _as_3d(array)
    if array.dtype.kind == "c":
        raise MaskValueError(f"{path}: complex voxels ({array.dtype}); a label image holds integers")
    if array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise MaskValueError(f"{path}: the mask holds NaN or infinite values")
        if not np.array_equal(array, np.round(array)):
            raise MaskValueError(
                f"{path}: the mask holds non-integer values (a probability map? threshold it first)"
            )
        if array.size and (array.max() >= _LARGEST_LABEL or array.min() <= -_LARGEST_LABEL):
            raise MaskValueError(f"{path}: the mask holds label values beyond +-2^53, not label ids")
        array = array.astype(np.int64)
    elif array.dtype.kind == "b":
        array = array.astype(np.uint8)
    elif array.dtype == np.uint64 and array.size and array.max() > np.iinfo(np.int64).max:
        raise MaskValueError(f"{path}: the mask holds label values beyond 2^63, not label ids")
    if array.size and array.min() < 0:
        raise MaskValueError(f"{path}: the mask holds negative label values (min {array.min()})")
    return array


def _resample_nearest(image: sitk.Image, reference: Geometry) -> sitk.Image:
    target = sitk.Image(list(reference.size), image.GetPixelID())
    reference.apply_to(target)
    return sitk.Resample(image, target, sitk.Transform(), sitk.sitkNearestNeighbor, 0)


def _as_3d(array: np.ndarray) -> np.ndarray:
    return array[np.newaxis] if array.ndim == 2 else array


def _stem(path: Path) -> str:
    name = path.name
    for suffix in _MASK_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem

"""Reading volumes and label images (NIfTI, NRRD, .seg.nrrd, MHA, DICOM series) with clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ..errors import InputFileError, MaskValueError
from .geometry import Geometry, check_same_geometry, same_voxel_centres
from .labelmaps import LabelMap
from .structures import StructureSet, Volume

_MASK_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".mha", ".mhd")


def read_image(path: str | Path) -> sitk.Image:
    """Read an image file, or a folder holding one DICOM series, as a SimpleITK image."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path}: file not found")
    if path.is_dir():
        return _read_dicom_series(path)
    try:
        return sitk.ReadImage(str(path))
    except RuntimeError:
        raise InputFileError(f"{path}: not a readable image (NIfTI, NRRD, MHA or a DICOM folder)") from None


def read_volume(path: str | Path) -> Volume:
    """Read an intensity image as a float32 (z, y, x) array with its geometry."""
    image = read_image(path)
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise InputFileError(
            f"{path}: expected a scalar image, found {image.GetNumberOfComponentsPerPixel()} components"
        )
    array = sitk.GetArrayFromImage(image).astype(np.float32, copy=False)
    return Volume(array=_as_3d(array), geometry=Geometry.from_sitk(image), source=str(path))


def read_structures(
    path: str | Path,
    *,
    label_map: LabelMap | str | Path | None = None,
    reference: Geometry | None = None,
    reference_name: str = "the reference",
    resample: bool = False,
) -> StructureSet:
    """Read a label image (or a Slicer ``.seg.nrrd``) as named structures.

    Without ``label_map`` every non-zero value becomes ``label_<value>``; with one, a value it does not
    name is an error. With ``reference`` the grid must match it, unless ``resample`` is set, in which
    case the labels are resampled onto the reference grid by nearest neighbour.
    """
    path = Path(path)
    if isinstance(label_map, (str, Path)):
        label_map = LabelMap.load(label_map)
    image = read_image(path)
    if reference is not None:
        geometry = Geometry.from_sitk(image)
        if geometry.differences(reference) and (resample or same_voxel_centres(geometry, reference)):
            image = _resample_nearest(image, reference)
        else:
            check_same_geometry(geometry, reference, first_name=str(path), second_name=reference_name)
    if path.name.endswith(".seg.nrrd"):
        return _slicer_segmentation(path, image, label_map)
    labels = _label_array(path, image)
    return StructureSet.from_label_array(
        labels, Geometry.from_sitk(image), label_map=label_map, source=str(path)
    )


def read_structure_folder(folder: str | Path, *, reference: Geometry | None = None) -> StructureSet:
    """Read a folder of binary masks, one file per structure named after the file (may overlap)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputFileError(f"{folder}: folder not found")
    files = sorted(p for p in folder.iterdir() if p.name.lower().endswith(_MASK_SUFFIXES))
    if not files:
        raise InputFileError(f"{folder}: holds no mask files ({', '.join(_MASK_SUFFIXES)})")
    masks, geometry = {}, reference
    for file in files:
        image = read_image(file)
        file_geometry = Geometry.from_sitk(image)
        if geometry is None:
            geometry, first = file_geometry, file
        else:
            check_same_geometry(
                file_geometry,
                geometry,
                first_name=str(file),
                second_name=str(first if reference is None else "the reference"),
            )
        labels = _label_array(file, image)
        values = np.unique(labels)
        if values.size > 2 or (values.size == 2 and values[0] != 0):
            raise MaskValueError(f"{file}: expected a binary mask, found values {values[:5].tolist()}")
        masks[_stem(file)] = labels != 0
    return StructureSet.from_masks(masks, geometry, source=str(folder))


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


def _label_array(path: Path, image: sitk.Image) -> np.ndarray:
    """The image's voxels as a non-negative integer array, whatever the stored voxel type."""
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise MaskValueError(
            f"{path}: expected a label image, found {image.GetNumberOfComponentsPerPixel()} components"
        )
    array = _as_3d(sitk.GetArrayFromImage(image))
    if array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise MaskValueError(f"{path}: the mask holds NaN or infinite values")
        if not np.array_equal(array, np.round(array)):
            raise MaskValueError(
                f"{path}: the mask holds non-integer values (a probability map? threshold it first)"
            )
        array = array.astype(np.int64)
    elif array.dtype.kind == "b":
        array = array.astype(np.uint8)
    if array.size and array.min() < 0:
        raise MaskValueError(f"{path}: the mask holds negative label values")
    return array


def _slicer_segmentation(path: Path, image: sitk.Image, label_map: LabelMap | None) -> StructureSet:
    """Segments of a Slicer .seg.nrrd: names, layers and label values from its header."""
    import nrrd

    header = nrrd.read_header(str(path))
    geometry = Geometry.from_sitk(image)
    array = sitk.GetArrayFromImage(image)
    layers = (
        [array[..., i] for i in range(array.shape[-1])]
        if image.GetNumberOfComponentsPerPixel() > 1
        else [array]
    )
    layers = [_as_3d(layer).astype(np.int64, copy=False) for layer in layers]
    locations = {}
    index = 0
    while f"Segment{index}_ID" in header:
        name = header.get(f"Segment{index}_Name", header[f"Segment{index}_ID"])
        layer = int(header.get(f"Segment{index}_Layer", 0))
        value = int(header.get(f"Segment{index}_LabelValue", index + 1))
        locations[name] = (layer, value)
        index += 1
    if not locations:
        return StructureSet.from_label_array(layers[0], geometry, label_map=label_map, source=str(path))
    return StructureSet(layers=tuple(layers), locations=locations, geometry=geometry, source=str(path))


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

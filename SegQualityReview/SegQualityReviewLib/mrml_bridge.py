"""MRML nodes to and from the core's records: volumes, segmentations, tables and segment tags.

The one core module that imports ``slicer`` and ``vtk``. It runs inside 3D Slicer and against the
``slicer-core`` wheel (real MRML libraries, no GUI). Slicer works in RAS, the core in LPS (ITK): the
first two rows of the direction and origin change sign. Arrays are (z, y, x) = (k, j, i).
"""

from __future__ import annotations

import re
from typing import Iterable, Mapping, Sequence

import numpy as np
import slicer
import vtk
from vtk.util import numpy_support

from .errors import SegQualityError
from .io import Geometry, StructureSet, Volume

_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])
_TAG_ESCAPES = {"%": "%25", "|": "%7C", "\n": "%0A", "\r": "%0D"}
_TAG_UNESCAPES = {escaped: character for character, escaped in _TAG_ESCAPES.items()}
_TAG_ESCAPE_PATTERN = re.compile("|".join(_TAG_UNESCAPES), flags=re.IGNORECASE)
TAG_PREFIX = "SegQualityReview."
REVIEW_ROLE_ATTRIBUTE = "SegQualityReview.Role"
SEGMENTATION_REFERENCE_ROLE = "SegQualityReview.Segmentation"


class MRMLBridgeError(SegQualityError):
    """A node cannot be converted: no image data, several components, duplicate segment names."""


def geometry_from_volume_node(volume_node) -> Geometry:
    """The voxel grid of a volume node in the core's LPS convention."""
    image = volume_node.GetImageData() if volume_node else None
    if image is None:
        raise MRMLBridgeError(f"{_name(volume_node)}: the volume has no image data")
    directions = vtk.vtkMatrix4x4()
    volume_node.GetIJKToRASDirectionMatrix(directions)
    ras = np.array([[directions.GetElement(r, c) for c in range(3)] for r in range(3)])
    lps = _LPS_TO_RAS @ ras
    origin = _LPS_TO_RAS @ np.array(volume_node.GetOrigin())
    return Geometry(
        size=tuple(int(v) for v in image.GetDimensions()),
        spacing=tuple(float(v) for v in volume_node.GetSpacing()),
        origin=tuple(float(v) for v in origin),
        direction=tuple(float(v) for v in lps.ravel()),
    )


def set_volume_node_geometry(volume_node, geometry: Geometry) -> None:
    """Place a volume node on ``geometry`` (LPS) by setting its spacing, RAS origin and directions."""
    ras = _LPS_TO_RAS @ np.array(geometry.direction, dtype=float).reshape(3, 3)
    directions = vtk.vtkMatrix4x4()
    for row in range(3):
        for column in range(3):
            directions.SetElement(row, column, ras[row, column])
    volume_node.SetIJKToRASDirectionMatrix(directions)
    volume_node.SetSpacing(*geometry.spacing)
    volume_node.SetOrigin(*(_LPS_TO_RAS @ np.array(geometry.origin)))


def volume_from_node(volume_node) -> Volume:
    """A scalar volume node as the core's ``Volume`` (float32 (z, y, x) array, LPS geometry)."""
    geometry = geometry_from_volume_node(volume_node)
    image = volume_node.GetImageData()
    if image.GetNumberOfScalarComponents() != 1:
        raise MRMLBridgeError(
            f"{_name(volume_node)}: expected a scalar volume, found {image.GetNumberOfScalarComponents()} components"
        )
    array = _array_from_image(image).astype(np.float32)
    return Volume(array=array, geometry=geometry, source=_name(volume_node))


def add_volume_node(scene, volume: Volume, *, name: str, labelmap: bool = False):
    """A new scalar (or label map) volume node in ``scene`` holding ``volume``, with display nodes."""
    node_class = "vtkMRMLLabelMapVolumeNode" if labelmap else "vtkMRMLScalarVolumeNode"
    node = scene.AddNewNodeByClass(node_class, name)
    node.SetAndObserveImageData(_image_from_array(volume.array))
    set_volume_node_geometry(node, volume.geometry)
    node.CreateDefaultDisplayNodes()
    return node


def structures_from_segmentation_node(segmentation_node, *, reference_volume_node) -> StructureSet:
    """Every segment as a named structure on the reference volume's grid (nearest-neighbour resampling).

    Segment names become structure names. A labelmap reaching outside the volume (painted past its edge,
    or made on a larger image) is cropped to the volume: the review and the metrics concern the volume. The shared label layers are kept as they are, so
    overlapping segments stay overlapping and no per-segment copy is made. Nodes under a transform are
    refused rather than read in the wrong place.
    """
    for node in (segmentation_node, reference_volume_node):
        if node.GetParentTransformNode() is not None:
            raise MRMLBridgeError(
                f"{_name(node)}: it is under the transform '{_name(node.GetParentTransformNode())}'; "
                "harden the transform first (Data module, right-click, Harden transform)"
            )
    segmentation = segmentation_node.GetSegmentation()
    if segmentation.GetSourceRepresentationName() != "Binary labelmap":
        raise MRMLBridgeError(
            f"{_name(segmentation_node)}: its source representation is "
            f"'{segmentation.GetSourceRepresentationName()}'; convert it to a binary labelmap first"
        )
    geometry = geometry_from_volume_node(reference_volume_node)
    reference = _oriented_reference(reference_volume_node)
    layers = [
        _resampled_layer(segmentation.GetLayerDataObject(index), reference, geometry)
        for index in range(segmentation.GetNumberOfLayers())
    ]
    locations: dict[str, tuple[int, int]] = {}
    for index in range(segmentation.GetNumberOfSegments()):
        segment_id = segmentation.GetNthSegmentID(index)
        segment = segmentation.GetSegment(segment_id)
        name = segment.GetName()
        if name in locations:
            raise MRMLBridgeError(f"{_name(segmentation_node)}: two segments are named '{name}'")
        locations[name] = (int(segmentation.GetLayerIndex(segment_id)), int(segment.GetLabelValue()))
    return StructureSet(
        layers=tuple(layers), locations=locations, geometry=geometry, source=_name(segmentation_node)
    )


def add_segmentation_node(scene, structures: StructureSet, *, name: str, reference_volume_node=None):
    """A new segmentation node with one segment per structure, named after it."""
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", name)
    node.CreateDefaultDisplayNodes()
    if reference_volume_node is not None:
        node.SetReferenceImageGeometryParameterFromVolumeNode(reference_volume_node)
    to_world = _ijk_to_ras_matrix(structures.geometry)
    logic = slicer.vtkSlicerSegmentationsModuleLogic
    for structure in structures.names:
        segment_id = node.GetSegmentation().AddEmptySegment("", structure)
        image = slicer.vtkOrientedImageData()
        image.ShallowCopy(_image_from_array(structures.mask(structure).astype(np.uint8)))
        image.SetImageToWorldMatrix(to_world)
        logic.SetBinaryLabelmapToSegment(image, node, segment_id, logic.MODE_REPLACE, image.GetExtent())
    return node


def add_segment(segmentation_node, name: str, mask: np.ndarray, geometry: Geometry) -> str:
    """Add one new segment ``name`` holding ``mask`` (z, y, x on ``geometry``); returns its ID.

    The other segments keep their voxels: the new labelmap is set with nothing to overwrite, so where it
    overlaps another segment Slicer moves it to a layer of its own instead of erasing the other.
    """
    segmentation = segmentation_node.GetSegmentation()
    if segmentation.GetSegmentIdBySegmentName(name):
        raise MRMLBridgeError(f"{_name(segmentation_node)}: a segment named '{name}' already exists")
    segment_id = segmentation.AddEmptySegment("", name)
    image = slicer.vtkOrientedImageData()
    image.ShallowCopy(_image_from_array(np.asarray(mask, dtype=bool).astype(np.uint8)))
    image.SetImageToWorldMatrix(_ijk_to_ras_matrix(geometry))
    logic = slicer.vtkSlicerSegmentationsModuleLogic
    logic.SetBinaryLabelmapToSegment(
        image, segmentation_node, segment_id, logic.MODE_REPLACE, image.GetExtent()
    )
    return segment_id


def roi_voxel_box(roi_node, geometry: Geometry) -> tuple[int, int, int, int, int, int]:
    """The inclusive voxel box ``(i0, j0, k0, i1, j1, k1)`` of a markups ROI on ``geometry``: every voxel
    whose centre lies in the ROI's axis-aligned RAS bounds (world coordinates, transforms applied)."""
    from .segmenters.box_prompts import voxel_box_from_ras

    bounds = [0.0] * 6
    roi_node.GetRASBounds(bounds)
    corners = (bounds[0], bounds[2], bounds[4], bounds[1], bounds[3], bounds[5])
    return voxel_box_from_ras(
        corners, geometry, image_name=_name(roi_node), option=f"ROI {_name(roi_node)}"
    ).indices


def ras_of_voxel(geometry: Geometry, zyx: Sequence[float]) -> tuple[float, float, float]:
    """RAS coordinates (mm) of a (z, y, x) voxel position on ``geometry``."""
    ijk = np.array([zyx[2], zyx[1], zyx[0]], dtype=float)
    direction = np.array(geometry.direction, dtype=float).reshape(3, 3)
    lps = np.array(geometry.origin) + direction @ (ijk * np.array(geometry.spacing))
    return tuple(float(v) for v in _LPS_TO_RAS @ lps)


def slice_center_ras(structures: StructureSet, structure: str, z_index: int) -> tuple[float, float, float]:
    """Where to centre the slice views: the structure's centroid on slice ``z_index`` (the slice centre
    when the structure is absent there)."""
    plane = structures.mask(structure)[z_index]
    rows, columns = np.nonzero(plane)
    if rows.size:
        return ras_of_voxel(structures.geometry, (z_index, rows.mean(), columns.mean()))
    return ras_of_voxel(structures.geometry, (z_index, (plane.shape[0] - 1) / 2, (plane.shape[1] - 1) / 2))


def write_table(table_node, rows: Iterable[Mapping[str, str]], *, columns: Sequence[str]) -> None:
    """Replace a table node's content by ``rows`` (string cells, one column per name in ``columns``).

    Tabs and line breaks become spaces: Slicer saves tables as TSV, which would cut a cell there (the
    review's JSON autosave keeps the exact text).
    """
    rows = list(rows)
    table = vtk.vtkTable()
    for column in columns:
        values = vtk.vtkStringArray()
        values.SetName(column)
        values.SetNumberOfValues(len(rows))
        for index, row in enumerate(rows):
            values.SetValue(index, _single_line(str(row.get(column, ""))))
        table.AddColumn(values)
    table_node.SetAndObserveTable(table)
    table_node.Modified()


def read_table(table_node) -> list[dict[str, str]]:
    """A table node's rows as dictionaries of cell text, keyed by column name."""
    table = table_node.GetTable()
    names = [table.GetColumnName(c) for c in range(table.GetNumberOfColumns())]
    return [
        {name: table_node.GetCellText(r, c) for c, name in enumerate(names)}
        for r in range(table.GetNumberOfRows())
    ]


def segment_id(segmentation_node, structure: str) -> str:
    """The ID of the segment named ``structure``."""
    segmentation = segmentation_node.GetSegmentation()
    for index in range(segmentation.GetNumberOfSegments()):
        current = segmentation.GetNthSegmentID(index)
        if segmentation.GetSegment(current).GetName() == structure:
            return current
    raise MRMLBridgeError(f"{_name(segmentation_node)}: no segment named '{structure}'")


def set_segment_tags(segmentation_node, structure: str, tags: Mapping[str, str]) -> None:
    """Store review values on a segment as ``SegQualityReview.<key>`` tags (saved with the scene).

    Values are escaped (``encode_tag_value``): a ``.seg.nrrd`` header keeps all tags of a segment in one
    line as ``key:value|key:value|``, so a ``|`` or a line break in a note would break it on reload.
    """
    segment = segmentation_node.GetSegmentation().GetSegment(segment_id(segmentation_node, structure))
    for key, value in tags.items():
        segment.SetTag(TAG_PREFIX + key, encode_tag_value(str(value)))


def segment_tags(segmentation_node, structure: str, *, keys: Iterable[str]) -> dict[str, str]:
    """The ``SegQualityReview.<key>`` tags a segment has among ``keys``, without the prefix."""
    segment = segmentation_node.GetSegmentation().GetSegment(segment_id(segmentation_node, structure))
    found = {}
    for key in keys:
        value = vtk.reference("")
        if segment.GetTag(TAG_PREFIX + key, value):
            found[key] = decode_tag_value(str(value))
    return found


def encode_tag_value(text: str) -> str:
    """Percent-escape what a segment tag value cannot hold in a ``.seg.nrrd`` header: ``|`` (the tag
    separator), line breaks (the header's line end) and ``%`` itself, so decoding is exact."""
    return "".join(_TAG_ESCAPES.get(character, character) for character in text)


def decode_tag_value(text: str) -> str:
    """The inverse of ``encode_tag_value``; text without escapes comes back unchanged."""
    return _TAG_ESCAPE_PATTERN.sub(lambda match: _TAG_UNESCAPES[match.group(0).upper()], text)


def show_only_segment(segmentation_node, structure: str) -> None:
    """Hide every segment but ``structure`` in the segmentation's display node."""
    display = segmentation_node.GetDisplayNode()
    if display is None:
        return
    wanted = segment_id(segmentation_node, structure)
    segmentation = segmentation_node.GetSegmentation()
    for index in range(segmentation.GetNumberOfSegments()):
        current = segmentation.GetNthSegmentID(index)
        display.SetSegmentVisibility(current, current == wanted)


def review_table_node(scene, segmentation_node, *, role: str, create: bool = True):
    """The table node holding this segmentation's review ``role`` ("items", "audit" or "proposals"), found by its
    node reference so it survives scene save and reload; created when absent and ``create`` is set."""
    tables = scene.GetNodesByClass("vtkMRMLTableNode")
    try:
        for index in range(tables.GetNumberOfItems()):
            table = tables.GetItemAsObject(index)
            if (
                table.GetAttribute(REVIEW_ROLE_ATTRIBUTE) == role
                and table.GetNodeReferenceID(SEGMENTATION_REFERENCE_ROLE) == segmentation_node.GetID()
            ):
                return table
    finally:
        tables.UnRegister(None)
    if not create:
        return None
    table = scene.AddNewNodeByClass("vtkMRMLTableNode", f"{_name(segmentation_node)} review {role}")
    table.SetAttribute(REVIEW_ROLE_ATTRIBUTE, role)
    table.SetNodeReferenceID(SEGMENTATION_REFERENCE_ROLE, segmentation_node.GetID())
    return table


def _resampled_layer(layer_image, reference, geometry: Geometry) -> np.ndarray:
    extent = layer_image.GetExtent()
    if extent[0] > extent[1] or extent[2] > extent[3] or extent[4] > extent[5]:
        return np.zeros(geometry.array_shape, dtype=np.uint8)
    resampled = slicer.vtkOrientedImageData()
    # padImage=False: the output takes the reference's extent exactly (True would make it the union of
    # both extents, so a labelmap larger than the volume would not fit the volume's grid).
    if not slicer.vtkOrientedImageDataResample.ResampleOrientedImageToReferenceOrientedImage(
        layer_image, reference, resampled, False, False
    ):
        raise MRMLBridgeError("a segmentation layer could not be resampled onto the reference volume")
    array = _array_from_image(resampled)
    if array.shape != geometry.array_shape:
        raise MRMLBridgeError(
            f"a segmentation layer resampled to {array.shape}, expected {geometry.array_shape}"
        )
    return array.copy()


def _oriented_reference(volume_node):
    reference = slicer.vtkOrientedImageData()
    reference.SetDimensions(volume_node.GetImageData().GetDimensions())
    matrix = vtk.vtkMatrix4x4()
    volume_node.GetIJKToRASMatrix(matrix)
    reference.SetImageToWorldMatrix(matrix)
    return reference


def _ijk_to_ras_matrix(geometry: Geometry):
    direction = _LPS_TO_RAS @ np.array(geometry.direction, dtype=float).reshape(3, 3)
    origin = _LPS_TO_RAS @ np.array(geometry.origin)
    matrix = vtk.vtkMatrix4x4()
    for row in range(3):
        for column in range(3):
            matrix.SetElement(row, column, direction[row, column] * geometry.spacing[column])
        matrix.SetElement(row, 3, origin[row])
    return matrix


def _array_from_image(image) -> np.ndarray:
    x, y, z = image.GetDimensions()
    return numpy_support.vtk_to_numpy(image.GetPointData().GetScalars()).reshape(z, y, x)


def _image_from_array(array: np.ndarray):
    array = np.ascontiguousarray(array)
    if array.dtype == bool:
        array = array.astype(np.uint8)
    image = vtk.vtkImageData()
    image.SetDimensions(array.shape[2], array.shape[1], array.shape[0])
    scalars = numpy_support.numpy_to_vtk(array.ravel(), deep=True)
    image.GetPointData().SetScalars(scalars)
    return image


def _single_line(text: str) -> str:
    return text.replace("\r\n", " ").replace("\t", " ").replace("\n", " ").replace("\r", " ")


def _name(node) -> str:
    return node.GetName() if node is not None and node.GetName() else "<unnamed node>"

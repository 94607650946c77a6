"""Reading volumes and segmentations with their geometry, and naming structures through label maps."""

from .geometry import Geometry, check_same_geometry, radiological_axial, same_voxel_centres
from .labelmaps import LabelMap, normalize_structure_name
from .readers import check_finite_volume, read_image, read_structure_folder, read_structures, read_volume
from .structures import StructurePair, StructureSet, Volume, pair_structures

__all__ = [
    "Geometry",
    "LabelMap",
    "StructurePair",
    "StructureSet",
    "Volume",
    "check_finite_volume",
    "check_same_geometry",
    "same_voxel_centres",
    "normalize_structure_name",
    "pair_structures",
    "radiological_axial",
    "read_image",
    "read_structure_folder",
    "read_structures",
    "read_volume",
]

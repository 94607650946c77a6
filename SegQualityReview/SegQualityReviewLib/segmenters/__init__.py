"""Segmenters: anything that turns an image into named structures, behind one protocol.

Public API:
- ``Segmenter`` (protocol: ``name``, ``version``, ``structures``, ``training_datasets``,
  ``run(volume, *, control=None) -> io.StructureSet``), ``RunControl`` (progress + cancellation),
  errors ``SegmenterError``, ``SegmenterUnavailableError``, ``SegmentationCancelledError``.
- Built-ins without weights: ``ClassicalCTSegmenter`` (``classical-ct``: lung_left, lung_right,
  trachea, bones; ``classical-body``: body).
- Adapters: ``TorchModelSegmenter`` (TorchScript / state dict + YAML), ``TotalSegmentatorSegmenter``,
  ``NnUNetSegmenter`` (optional packages, imported lazily), ``ExistingMasksSegmenter`` (stored predictions).
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
from .classical import CLASSICAL_CT_STRUCTURES, ClassicalCTSegmenter
from .existing_masks import ExistingMasksSegmenter
from .output import read_segmentation, write_segmentation
from .reference_unions import TOTALSEGMENTATOR_UNIONS, union_mask
from .registry import ModelInfo, available_models, build_segmenter

__all__ = [
    "CLASSICAL_CT_STRUCTURES",
    "TOTALSEGMENTATOR_UNIONS",
    "ClassicalCTSegmenter",
    "ExistingMasksSegmenter",
    "ModelInfo",
    "PairAgreement",
    "RunControl",
    "SegmentationCancelledError",
    "Segmenter",
    "SegmenterError",
    "SegmenterUnavailableError",
    "StructureAgreement",
    "available_models",
    "build_segmenter",
    "flip_agreement",
    "flip_axes_keeping_laterality",
    "pairwise_agreement",
    "read_segmentation",
    "summarize_agreement",
    "union_mask",
    "write_segmentation",
]

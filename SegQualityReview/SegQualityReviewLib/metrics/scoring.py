"""Score predicted structures against reference structures: overlap, surface distances, volumes, statuses."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import torch

from ..io import StructurePair, StructureSet, check_same_geometry, pair_structures
from .cpu_threads import single_cpu_thread
from .crops import cropped_pairs
from .failure_modes import empty_mask_status, failure_mode, summarize_components
from .nearest import nearest_distances
from .options import DEFAULT_NSD_TOLERANCE_MM, MetricInputError, NsdTolerance, ScoringOptions, scoring_options
from .overlap import NO_VOXELS, OverlapCounts, count_overlaps, union_bounding_box
from .packs import PACK_VOXELS, plan_packs, stack_crops
from .records import StructureScore
from .surface_summary import Directed, DistanceSummary, summarize_distances
from .surfaces import Surface, extract_surface

NAN = float("nan")


def score_structure_sets(
    pred: StructureSet,
    gt: StructureSet,
    *,
    nsd_tolerance_mm: NsdTolerance = DEFAULT_NSD_TOLERANCE_MM,
    surface: str = "surfel",
    hd95: str = "max",
    device: str = "auto",
    compute_distances: bool = True,
) -> list[StructureScore]:
    """Score every structure of ``gt`` (then prediction-only ones), matched by name; see ``score_masks``.

    A structure the prediction does not declare gets status ``not_supported`` with NaN values; one only
    the prediction declares gets ``not_supported`` with its predicted volume. Grids must agree.
    """
    options = scoring_options(
        nsd_tolerance_mm=nsd_tolerance_mm,
        surface=surface,
        hd95=hd95,
        device=device,
        compute_distances=compute_distances,
    )
    check_same_geometry(pred.geometry, gt.geometry, first_name=pred.source, second_name=gt.source)
    spacing = gt.geometry.array_spacing
    voxel_ml = gt.geometry.voxel_volume_ml
    pairs = pair_structures(pred, gt)
    scored = [pair for pair in pairs if pair.pred_name is not None and pair.gt_name is not None]
    by_name: dict[str, StructureScore] = {}
    crops = (
        (crop.name, _on_device(crop.pred, options.device), _on_device(crop.gt, options.device))
        for crop in cropped_pairs(pred, gt, scored)
    )
    with single_cpu_thread(options.device):
        for score in _score_structures(crops, spacing, gt.geometry.diagonal_mm, options):
            by_name[score.structure] = score
    for pair in pairs:
        if pair.name not in by_name:
            by_name[pair.name] = _undeclared_score(pair, pred, gt, voxel_ml)
    return [by_name[pair.name] for pair in pairs]


def score_masks(
    pred: np.ndarray | torch.Tensor,
    gt: np.ndarray | torch.Tensor,
    *,
    spacing: Sequence[float],
    names: Sequence[str],
    nsd_tolerance_mm: NsdTolerance = DEFAULT_NSD_TOLERANCE_MM,
    surface: str = "surfel",
    hd95: str = "max",
    device: str = "auto",
    compute_distances: bool = True,
) -> list[StructureScore]:
    """Score stacked boolean (N, z, y, x) masks; ``spacing`` is mm per array axis (z, y, x).

    ``surface`` "surfel" (area-weighted marching-cubes elements, DeepMind) or "voxel" (boundary voxels,
    MONAI); ``hd95`` "max" (larger directed 95th percentile) or "pooled"; ``nsd_tolerance_mm`` one value
    or {structure: mm} with a 2 mm fallback; ``compute_distances`` False leaves every distance NaN.
    """
    options = scoring_options(
        nsd_tolerance_mm=nsd_tolerance_mm,
        surface=surface,
        hd95=hd95,
        device=device,
        compute_distances=compute_distances,
    )
    pred_masks = _mask_tensor(pred, "prediction", options.device)
    gt_masks = _mask_tensor(gt, "reference", options.device)
    if pred_masks.shape != gt_masks.shape or pred_masks.ndim != 4 or pred_masks.shape[0] != len(names):
        raise MetricInputError(
            f"prediction {tuple(pred_masks.shape)} and reference {tuple(gt_masks.shape)} masks must both be "
            f"(N, z, y, x) with N = {len(names)} structure names"
        )
    spacing = tuple(float(s) for s in spacing)
    if len(spacing) != 3 or not all(math.isfinite(s) and s > 0 for s in spacing):
        raise MetricInputError(f"spacing must be three positive mm values (z, y, x), not {spacing}")
    diagonal_mm = math.sqrt(sum((n * s) ** 2 for n, s in zip(gt_masks.shape[1:], spacing)))
    crops = ((name, *_union_crops(pred_masks[index], gt_masks[index])) for index, name in enumerate(names))
    with single_cpu_thread(options.device):
        return _score_structures(crops, spacing, diagonal_mm, options)


def _mask_tensor(masks: np.ndarray | torch.Tensor, side: str, device: torch.device) -> torch.Tensor:
    if masks.dtype not in (np.bool_, torch.bool):
        raise MetricInputError(f"{side} masks must be boolean, not {masks.dtype}")
    return torch.as_tensor(masks).to(device)


def _on_device(crop: np.ndarray | None, device: torch.device) -> torch.Tensor | None:
    return None if crop is None else torch.from_numpy(crop).to(device)


def _union_crops(pred: torch.Tensor, gt: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    box = union_bounding_box(pred, gt)
    return (None, None) if box is None else (pred[box], gt[box])


@dataclass(frozen=True)
class _Overlapping:
    """A structure with both masks non-empty, cropped to their union's box, waiting for its pack."""

    position: int
    name: str
    pred: torch.Tensor
    gt: torch.Tensor
    counts: OverlapCounts


def _score_structures(
    crops: Iterable[tuple[str, torch.Tensor | None, torch.Tensor | None]],
    spacing: tuple[float, float, float],
    diagonal_mm: float,
    options: ScoringOptions,
) -> list[StructureScore]:
    """Score structures given as (name, prediction crop, reference crop) to their union's box (None,
    None: both empty), in order. Everything works inside the boxes: counts, surfaces and components
    never see the rest of the image. Small structures wait and are scored in packs of at most
    ``PACK_VOXELS``, so memory stays bounded however many structures come."""
    voxel_ml = math.prod(spacing) / 1000.0
    scores: dict[int, StructureScore] = {}
    waiting: list[_Overlapping] = []

    def score_waiting() -> None:
        for pack in plan_packs([tuple(item.pred.shape) for item in waiting]):
            for item, score in _score_pack([waiting[i] for i in pack], spacing, voxel_ml, options):
                scores[item.position] = score
        waiting.clear()

    for position, (name, pred_crop, gt_crop) in enumerate(crops):
        counts = NO_VOXELS if pred_crop is None else count_overlaps(pred_crop, gt_crop)
        status = empty_mask_status(pred_voxels=counts.pred, gt_voxels=counts.gt)
        if status != "ok":
            distances = _distances_against_empty(status, diagonal_mm, options)
            mode = failure_mode(
                status=status, overlap_voxels=0, pred_voxels=counts.pred, gt_voxels=counts.gt, components=None
            )
            scores[position] = _score(name, status, mode, counts, voxel_ml, distances)
            continue
        waiting.append(_Overlapping(position, name, pred_crop, gt_crop, counts))
        if sum(item.pred.numel() for item in waiting) >= PACK_VOXELS:
            score_waiting()
    score_waiting()
    return [scores[position] for position in range(len(scores))]


def _score_pack(
    items: list[_Overlapping], spacing: tuple[float, float, float], voxel_ml: float, options: ScoringOptions
) -> list[tuple[_Overlapping, StructureScore]]:
    """Score structures with both masks non-empty together; when the pack runs out of memory, each alone,
    so only a structure that cannot be scored alone is ``failed``."""
    pred = stack_crops([item.pred for item in items]) if len(items) > 1 else items[0].pred[None]
    gt = stack_crops([item.gt for item in items]) if len(items) > 1 else items[0].gt[None]
    try:
        if options.compute_distances:
            distances = _pack_distances(pred, gt, [item.name for item in items], spacing, options)
        else:
            distances = [DistanceSummary(hd=NAN, hd95=NAN, nsd=NAN, assd=NAN, masd=NAN)] * len(items)
    except (MemoryError, torch.cuda.OutOfMemoryError):
        if len(items) > 1:
            return [scored for item in items for scored in _score_pack([item], spacing, voxel_ml, options)]
        item = items[0]
        return [(item, _failed_score(item.name, item.counts.pred, item.counts.gt, voxel_ml))]
    scored = []
    for item, summary in zip(items, distances):
        components = None
        if item.counts.both:
            components = summarize_components(item.pred.cpu().numpy(), item.gt.cpu().numpy(), spacing=spacing)
        mode = failure_mode(
            status="ok",
            overlap_voxels=item.counts.both,
            pred_voxels=item.counts.pred,
            gt_voxels=item.counts.gt,
            components=components,
        )
        scored.append((item, _score(item.name, "ok", mode, item.counts, voxel_ml, summary)))
    return scored


def _pack_distances(
    pred: torch.Tensor,
    gt: torch.Tensor,
    names: Sequence[str],
    spacing: tuple[float, float, float],
    options: ScoringOptions,
) -> list[DistanceSummary]:
    """Surface metrics of each structure of a (K, z, y, x) pack (one structure as plain (z, y, x))."""
    if pred.shape[0] == 1:
        pred, gt = pred[0], gt[0]
    pred_surface = extract_surface(pred, spacing=spacing, surface=options.surface)
    gt_surface = extract_surface(gt, spacing=spacing, surface=options.surface)

    def directed(source: Surface, target: Surface) -> Directed:
        if source.positions.shape[1] == 4:
            structures = source.positions[:, 0]
        else:
            structures = torch.zeros(source.positions.shape[0], dtype=torch.long, device=pred.device)
        distances = nearest_distances(source, target, spacing=spacing)
        return Directed(distances=distances, weights=source.weights, structures=structures)

    return summarize_distances(
        directed(gt_surface, pred_surface),
        directed(pred_surface, gt_surface),
        nsd_tolerances_mm=[options.nsd_tolerance_for(name) for name in names],
        hd95=options.hd95,
        weighted_percentile=options.surface == "surfel",
    )


def _distances_against_empty(status: str, diagonal_mm: float, options: ScoringOptions) -> DistanceSummary:
    """Against an empty side, the image diagonal and NSD 0 (DESIGN 3); NaN when both are empty."""
    if not options.compute_distances or status == "both_empty":
        return DistanceSummary(hd=NAN, hd95=NAN, nsd=NAN, assd=NAN, masd=NAN)
    return DistanceSummary(hd=diagonal_mm, hd95=diagonal_mm, nsd=0.0, assd=diagonal_mm, masd=diagonal_mm)


def _score(
    name: str,
    status: str,
    mode: str,
    counts: OverlapCounts,
    voxel_ml: float,
    distances: DistanceSummary,
) -> StructureScore:
    pred_voxels, gt_voxels, both_voxels = counts.pred, counts.gt, counts.both
    union_voxels = pred_voxels + gt_voxels - both_voxels
    return StructureScore(
        structure=name,
        status=status,
        failure_mode=mode,
        dice=_ratio(2 * both_voxels, pred_voxels + gt_voxels),
        iou=_ratio(both_voxels, union_voxels),
        precision=_ratio(both_voxels, pred_voxels),
        recall=_ratio(both_voxels, gt_voxels),
        hd=distances.hd,
        hd95=distances.hd95,
        nsd=distances.nsd,
        assd=distances.assd,
        masd=distances.masd,
        volume_pred_ml=pred_voxels * voxel_ml,
        volume_gt_ml=gt_voxels * voxel_ml,
        volume_diff_ml=(pred_voxels - gt_voxels) * voxel_ml,
    )


def _ratio(numerator: int, denominator: int) -> float:
    """numerator / denominator, NaN for 0/0: never a smoothing epsilon."""
    return numerator / denominator if denominator else NAN


def _failed_score(name: str, pred_voxels: int, gt_voxels: int, voxel_ml: float) -> StructureScore:
    return _blank_score(name, "failed", pred_ml=pred_voxels * voxel_ml, gt_ml=gt_voxels * voxel_ml)


def _undeclared_score(
    pair: StructurePair, pred: StructureSet, gt: StructureSet, voxel_ml: float
) -> StructureScore:
    """not_supported: one side does not declare the structure; only the declared side's volume is given."""
    pred_ml = float(pred.mask(pair.pred_name).sum()) * voxel_ml if pair.pred_name else NAN
    gt_ml = float(gt.mask(pair.gt_name).sum()) * voxel_ml if pair.gt_name else NAN
    return _blank_score(pair.name, "not_supported", pred_ml=pred_ml, gt_ml=gt_ml)


def _blank_score(name: str, status: str, *, pred_ml: float, gt_ml: float) -> StructureScore:
    return StructureScore(
        structure=name,
        status=status,
        failure_mode="",
        dice=NAN,
        iou=NAN,
        precision=NAN,
        recall=NAN,
        hd=NAN,
        hd95=NAN,
        nsd=NAN,
        assd=NAN,
        masd=NAN,
        volume_pred_ml=pred_ml,
        volume_gt_ml=gt_ml,
        volume_diff_ml=pred_ml - gt_ml,
    )

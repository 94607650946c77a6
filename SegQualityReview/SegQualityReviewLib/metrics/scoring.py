"""Score predicted structures against reference structures: overlap, surface distances, volumes, statuses."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from ..io import StructurePair, StructureSet, check_same_geometry, pair_structures
from .cpu_threads import single_cpu_thread
from .crops import cropped_pairs
from .failure_modes import count_components, empty_mask_status, failure_mode
from .nearest import nearest_distances
from .options import DEFAULT_NSD_TOLERANCE_MM, MetricInputError, NsdTolerance, ScoringOptions, scoring_options
from .overlap import NO_VOXELS, count_overlaps, union_bounding_box
from .records import StructureScore
from .surface_summary import DistanceSummary, summarize_distances
from .surfaces import extract_surface

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
    with single_cpu_thread(options.device):
        for crop in cropped_pairs(pred, gt, scored):
            by_name[crop.name] = _score_structure(
                crop.name,
                _on_device(crop.pred, options.device),
                _on_device(crop.gt, options.device),
                spacing,
                gt.geometry.diagonal_mm,
                options,
            )
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
    with single_cpu_thread(options.device):
        scores = []
        for index, name in enumerate(names):
            box = union_bounding_box(pred_masks[index], gt_masks[index])
            crops = (None, None) if box is None else (pred_masks[index][box], gt_masks[index][box])
            scores.append(_score_structure(name, *crops, spacing, diagonal_mm, options))
        return scores


def _mask_tensor(masks: np.ndarray | torch.Tensor, side: str, device: torch.device) -> torch.Tensor:
    if masks.dtype not in (np.bool_, torch.bool):
        raise MetricInputError(f"{side} masks must be boolean, not {masks.dtype}")
    return torch.as_tensor(masks).to(device)


def _on_device(crop: np.ndarray | None, device: torch.device) -> torch.Tensor | None:
    return None if crop is None else torch.from_numpy(crop).to(device)


def _score_structure(
    name: str,
    pred_crop: torch.Tensor | None,
    gt_crop: torch.Tensor | None,
    spacing: tuple[float, float, float],
    diagonal_mm: float,
    options: ScoringOptions,
) -> StructureScore:
    """Score one structure from its two masks cropped to their union's box (None, None: both empty).

    Everything works inside the box: counts, surfaces and components never see the rest of the image.
    """
    voxel_ml = math.prod(spacing) / 1000.0
    counts = NO_VOXELS if pred_crop is None else count_overlaps(pred_crop, gt_crop)
    status = empty_mask_status(pred_voxels=counts.pred, gt_voxels=counts.gt)
    try:
        distances = _distances(status, pred_crop, gt_crop, spacing, diagonal_mm, options, name)
    except (MemoryError, torch.cuda.OutOfMemoryError):
        return _failed_score(name, counts.pred, counts.gt, voxel_ml)
    components = (0, 0)
    if status == "ok" and counts.both:
        pred_components = count_components(pred_crop.cpu().numpy())
        # A non-empty reference has at least one component, so one predicted component is never
        # fragmented: the reference's labelling is needed only when the prediction has several.
        gt_components = count_components(gt_crop.cpu().numpy()) if pred_components > 1 else 1
        components = (pred_components, gt_components)
    mode = failure_mode(
        status=status,
        overlap_voxels=counts.both,
        pred_components=components[0],
        gt_components=components[1],
    )
    return _score(name, status, mode, counts.pred, counts.gt, counts.both, voxel_ml, distances)


def _distances(
    status: str,
    pred_crop: torch.Tensor | None,
    gt_crop: torch.Tensor | None,
    spacing: tuple[float, float, float],
    diagonal_mm: float,
    options: ScoringOptions,
    name: str,
) -> DistanceSummary:
    """Surface metrics of one structure; against an empty side, the image diagonal and NSD 0 (DESIGN 3)."""
    if not options.compute_distances or status == "both_empty":
        return DistanceSummary(hd=NAN, hd95=NAN, nsd=NAN, assd=NAN, masd=NAN)
    if status != "ok":
        return DistanceSummary(hd=diagonal_mm, hd95=diagonal_mm, nsd=0.0, assd=diagonal_mm, masd=diagonal_mm)
    pred_surface = extract_surface(pred_crop, spacing=spacing, surface=options.surface)
    gt_surface = extract_surface(gt_crop, spacing=spacing, surface=options.surface)
    return summarize_distances(
        nearest_distances(gt_surface, pred_surface, spacing=spacing),
        gt_surface.weights,
        nearest_distances(pred_surface, gt_surface, spacing=spacing),
        pred_surface.weights,
        nsd_tolerance_mm=options.nsd_tolerance_for(name),
        hd95=options.hd95,
        weighted_percentile=options.surface == "surfel",
    )


def _score(
    name: str,
    status: str,
    mode: str,
    pred_voxels: int,
    gt_voxels: int,
    both_voxels: int,
    voxel_ml: float,
    distances: DistanceSummary,
) -> StructureScore:
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

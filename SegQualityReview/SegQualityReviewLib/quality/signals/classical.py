"""Signal d: classical quality control of one mask against its image and its name's priors.

Training-free measurements, each a known symptom of a bad segmentation:
- shape: components and the share of the largest, empty slices inside the extent, abrupt end slices
  (a structure cut short), holes, how box-like each slice is (a box prompt taken as the answer),
  sphericity, jumps of the slice area along z;
- image: contrast between the mask and a 4 mm shell around it (overall, and on its worst slices), how
  much of the image gradient on the mask boundary is strong and normal to it, and whether the gradient
  is stronger 2 mm inside or outside than on the boundary itself (a shifted, eroded or dilated
  boundary lies off the image's edges); how much of the shell looks like the mask's core (the
  structure goes on outside: too small) and how much of the mask's rim does not (too large);
- identity: volume, lateral position and intensity (Hounsfield units on CT, normalised on MR, per
  sequence) against the priors of the name's concept; the name's side against the mask's position and
  against the other side's structure in the same segmentation.

Computed on a crop, subsampled so that it holds at most about 1.5 M voxels (the volume is exact).
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np
from scipy import ndimage

from ..cases import SEQUENCES
from ..context import SHELL_MM, CaseContext
from ..crops import StructureCrop
from ..names import GROUPS, identify, partner_names

MAX_CROP_VOXELS = 1_500_000
EDGE_OFFSET_MM = 2.0
_FULL_CONNECTIVITY = np.ones((3, 3, 3), bool)
_IN_PLANE = ndimage.generate_binary_structure(3, 1)
_IN_PLANE[0] = _IN_PLANE[2] = False

SHAPE_FEATURES = (
    "qc_log_volume",
    "qc_volume_z",
    "qc_components",
    "qc_largest_fraction",
    "qc_z_gap_fraction",
    "qc_z_runs",
    "qc_end_area_ratio",
    "qc_touches_edge",
    "qc_box_fill",
    "qc_hole_fraction",
    "qc_sphericity",
    "qc_area_jump",
)
IMAGE_FEATURES = (
    "qc_contrast",
    "qc_contrast_max",
    "qc_inside_sd",
    "qc_edge_strength",
    "qc_edge_alignment",
    "qc_edge_offset",
    "qc_leak",
    "qc_spill",
    "qc_slice_contrast_p10",
    "qc_slice_alignment_p10",
)
IDENTITY_FEATURES = (
    "qc_lateral",
    "qc_lateral_z",
    "qc_side",
    "qc_side_agreement",
    "qc_partner_order",
    *(f"qc_intensity_z_{s}" for s in SEQUENCES),
)
CONTEXT_FEATURES = ("ctx_is_ct", "ctx_channels", *(f"ctx_group_{g}" for g in GROUPS))
FEATURES = SHAPE_FEATURES + IMAGE_FEATURES + IDENTITY_FEATURES + CONTEXT_FEATURES


def lateral_offsets(crops: Mapping[str, StructureCrop], context: CaseContext) -> dict[str, float]:
    """Each non-empty structure's offset from the body centre in half body widths (+ = patient left)."""
    return {
        name: context.body.lateral_offset(crop.crop, crop.box)
        for name, crop in crops.items()
        if not crop.empty
    }


def classical_features(
    crop: StructureCrop, context: CaseContext, *, laterals: Mapping[str, float]
) -> tuple[dict[str, float], dict[str, float]]:
    """The QC features of one non-empty structure (``FEATURES``; NaN where a measure does not apply)
    and its median intensity inside per sequence (what the intensity priors compare).

    ``laterals`` holds the lateral offsets of the structures of the same segmentation (for the
    left-right order against the other side's structure).
    """
    identity = identify(crop.name)
    features = dict.fromkeys(FEATURES, math.nan)
    voxel_ml = float(np.prod(context.spacing)) / 1000.0
    volume_ml = crop.voxels * voxel_ml
    features["qc_log_volume"] = math.log10(volume_ml)
    mask, spacing, stride = _subsampled(crop, context)
    features.update(_shape(mask, spacing, crop, context))
    image_features, intensities = _image(mask, spacing, stride, crop, context)
    features.update(image_features)
    lateral = laterals.get(crop.name, context.body.lateral_offset(crop.crop, crop.box))
    features["qc_lateral"] = lateral
    features["qc_side"] = float(identity.side)
    if identity.side and math.isfinite(lateral):
        features["qc_side_agreement"] = identity.side * lateral
        partners = [laterals[p] for p in partner_names(crop.name, tuple(laterals)) if p in laterals]
        partners = [p for p in partners if math.isfinite(p)]
        if partners:
            features["qc_partner_order"] = float(identity.side * np.sign(lateral - float(np.mean(partners))))
    features["ctx_is_ct"] = float(context.modality == "CT")
    features["ctx_channels"] = float(len(context.channels.sequences))
    for group in GROUPS:
        features[f"ctx_group_{group}"] = float(identity.group == group)
    features.update(prior_features(crop.name, features, intensities, context.priors))
    return features, intensities


def prior_features(
    name: str, features: Mapping[str, float], intensities: Mapping[str, float], priors
) -> dict[str, float]:
    """The z-scores against the name's priors (volume, lateral offset, intensity per sequence); NaN
    where the concept has no prior. Kept apart so cross-validation recomputes them per fold."""
    values = {
        "qc_volume_z": priors.volume_z(name, features["qc_log_volume"]),
        "qc_lateral_z": priors.lateral_z(name, features["qc_lateral"]),
    }
    for sequence in SEQUENCES:
        value = intensities.get(sequence)
        values[f"qc_intensity_z_{sequence}"] = (
            math.nan if value is None else priors.intensity_z(name, sequence, value)
        )
    return values


def shape_heuristic(features: Mapping[str, float]) -> float:
    """The shape-only baseline: one piece, no empty slices inside, no holes (no image, no learning)."""
    return float(
        features["qc_largest_fraction"]
        * (1.0 - features["qc_z_gap_fraction"])
        * (1.0 - features["qc_hole_fraction"])
    )


def _subsampled(crop: StructureCrop, context: CaseContext):
    """The crop's mask at a stride that keeps it under ``MAX_CROP_VOXELS``, with its spacing and stride."""
    stride = [1, 1, 1]
    while np.prod([math.ceil(n / s) for n, s in zip(crop.crop.shape, stride)]) > MAX_CROP_VOXELS:
        axis = int(np.argmin([sp * st for sp, st in zip(context.spacing, stride)]))
        stride[axis] += 1
    view = tuple(slice(None, None, s) for s in stride)
    spacing = tuple(sp * st for sp, st in zip(context.spacing, stride))
    return crop.crop[view], spacing, tuple(stride)


def _shape(mask: np.ndarray, spacing, crop: StructureCrop, context: CaseContext) -> dict[str, float]:
    labels, count = ndimage.label(mask, structure=_FULL_CONNECTIVITY)
    sizes = np.bincount(labels.ravel())[1:] if count else np.array([1])
    areas = mask.sum(axis=(1, 2)).astype(float)
    occupied = np.flatnonzero(areas)
    first, last = occupied[0], occupied[-1]
    inside = areas[first : last + 1]
    runs = int(np.count_nonzero(np.diff((inside > 0).astype(int)) == 1)) + 1
    top = inside.max()
    touches = crop.touches_z_end
    filled = ndimage.binary_fill_holes(mask, structure=_IN_PLANE)
    box_fill = []
    for z in occupied:
        rows = np.flatnonzero(mask[z].any(axis=1))
        cols = np.flatnonzero(mask[z].any(axis=0))
        box_fill.append(areas[z] / ((rows[-1] - rows[0] + 1) * (cols[-1] - cols[0] + 1)))
    volume = float(mask.sum()) * float(np.prod(spacing))
    padded = np.pad(mask, 1)
    faces = 0.0
    for axis in range(3):
        face_area = float(np.prod([s for a, s in enumerate(spacing) if a != axis]))
        faces += face_area * float(np.count_nonzero(np.diff(padded, axis=axis)))
    sphericity = (math.pi ** (1.0 / 3.0)) * (6.0 * volume) ** (2.0 / 3.0) / faces if faces else math.nan
    jumps = np.abs(np.diff(areas[occupied])) / top if occupied.size > 1 else np.zeros(1)
    return {
        "qc_components": math.log2(count) if count else 0.0,
        "qc_largest_fraction": float(sizes.max() / sizes.sum()),
        "qc_z_gap_fraction": float(np.count_nonzero(inside == 0) / inside.size),
        "qc_z_runs": float(runs - 1),
        "qc_end_area_ratio": float((inside[0] + inside[-1]) / (2.0 * top)),
        "qc_touches_edge": float(touches),
        "qc_box_fill": float(np.average(box_fill, weights=areas[occupied])),
        "qc_hole_fraction": float((filled.sum() - mask.sum()) / max(1, filled.sum())),
        "qc_sphericity": float(sphericity),
        "qc_area_jump": float(jumps.mean()),
    }


def _image(
    mask: np.ndarray, spacing, stride, crop: StructureCrop, context: CaseContext
) -> tuple[dict[str, float], dict[str, float]]:
    view = tuple(slice(b.start, b.stop, s) for b, s in zip(crop.box, stride))
    outside = ndimage.distance_transform_edt(~mask, sampling=spacing)
    inside = ndimage.distance_transform_edt(mask, sampling=spacing)
    shell = (outside > 0) & (outside <= SHELL_MM)
    eroded = ndimage.binary_erosion(mask, _IN_PLANE, border_value=1)
    boundary = mask & ~eroded
    band = (
        shell | (mask & ~ndimage.binary_erosion(mask, _IN_PLANE, iterations=2, border_value=1))
    ) & ~boundary
    # Rings 2 mm outside and inside the boundary: where an edge lies when the mask is dilated or eroded.
    outer_ring = (outside > EDGE_OFFSET_MM - 0.5 * spacing[1]) & (
        outside <= EDGE_OFFSET_MM + 0.5 * spacing[1]
    )
    inner_ring = (inside > EDGE_OFFSET_MM - 0.5 * spacing[1]) & (inside <= EDGE_OFFSET_MM + 0.5 * spacing[1])
    core = inside > EDGE_OFFSET_MM
    inner_band = mask & ~core
    mask_normal = _in_plane_gradient(ndimage.gaussian_filter(mask.astype(np.float32), (0, 1, 1)), spacing)
    normal_length = np.hypot(*mask_normal)
    per_channel = []
    intensity = {}
    for sequence, normalised, raw in zip(
        context.channels.sequences, context.channels.normalised, context.channels.raw
    ):
        image = normalised[view]
        values = {"sd": float(image[mask].std())}
        inside_values, shell_values = image[mask], image[shell]
        if shell_values.size and inside_values.size:
            pooled = math.sqrt((inside_values.var() + shell_values.var()) / 2.0) + 1e-3
            values["contrast"] = float((inside_values.mean() - shell_values.mean()) / pooled)
            values["slice_contrast_p10"] = _slice_contrast_p10(image, mask, shell, pooled)
            reference = image[core] if core.sum() >= 10 else inside_values
            low, high = np.percentile(reference, [10, 90])
            values["leak"] = float(((shell_values >= low) & (shell_values <= high)).mean())
            if inner_band.any():
                wide_low, wide_high = np.percentile(reference, [5, 95])
                band_values = image[inner_band]
                values["spill"] = float(((band_values < wide_low) | (band_values > wide_high)).mean())
        gy, gx = _in_plane_gradient(ndimage.gaussian_filter(image, (0, 1, 1)), spacing)
        magnitude = np.hypot(gy, gx)
        if boundary.any() and band.any():
            own = float(magnitude[boundary].mean())
            values["strength"] = own / (float(magnitude[band].mean()) + 1e-6)
            rings = [float(magnitude[r].mean()) for r in (outer_ring, inner_ring) if r.any()]
            if rings:
                values["offset"] = math.log((own + 1e-6) / (max(rings) + 1e-6))
            along = np.abs(gy * mask_normal[0] + gx * mask_normal[1])[boundary]
            weight = (magnitude * normal_length)[boundary]
            values["alignment"] = float(along.sum() / (weight.sum() + 1e-9))
            values["slice_alignment_p10"] = _slice_alignment_p10(along, weight, np.nonzero(boundary)[0])
        per_channel.append(values)
        raw_values = (raw.array[view] if context.modality == "CT" else image)[mask]
        intensity[sequence] = float(np.median(raw_values))
    # The channel where the structure stands out most speaks for leak, spill and the per-slice values.
    best = max(per_channel, key=lambda v: abs(v.get("contrast", 0.0)))
    features = {
        "qc_contrast": per_channel[0].get("contrast", math.nan),
        "qc_contrast_max": float(max(abs(v.get("contrast", math.nan)) for v in per_channel)),
        "qc_inside_sd": float(np.mean([v["sd"] for v in per_channel])),
        "qc_edge_strength": float(max(v.get("strength", math.nan) for v in per_channel)),
        "qc_edge_alignment": float(max(v.get("alignment", math.nan) for v in per_channel)),
        "qc_edge_offset": float(max(v.get("offset", math.nan) for v in per_channel)),
        "qc_leak": best.get("leak", math.nan),
        "qc_spill": best.get("spill", math.nan),
        "qc_slice_contrast_p10": best.get("slice_contrast_p10", math.nan),
        "qc_slice_alignment_p10": best.get("slice_alignment_p10", math.nan),
    }
    return features, intensity


def _slice_contrast_p10(image: np.ndarray, mask: np.ndarray, shell: np.ndarray, pooled: float) -> float:
    """The 10th percentile over occupied slices of (inside - shell) / pooled SD: low when some slices
    (a z shift, extra end slices) hold no structure."""
    depth = mask.shape[0]
    z_in, z_shell = np.nonzero(mask)[0], np.nonzero(shell)[0]
    count_in = np.bincount(z_in, minlength=depth)
    count_shell = np.bincount(z_shell, minlength=depth)
    mean_in = np.bincount(z_in, weights=image[mask], minlength=depth) / np.maximum(count_in, 1)
    mean_shell = np.bincount(z_shell, weights=image[shell], minlength=depth) / np.maximum(count_shell, 1)
    valid = (count_in > 0) & (count_shell > 0)
    if not valid.any():
        return math.nan
    return float(np.percentile((mean_in[valid] - mean_shell[valid]) / pooled, 10))


def _slice_alignment_p10(along: np.ndarray, weight: np.ndarray, z: np.ndarray) -> float:
    """The 10th percentile over slices of the boundary's gradient alignment (see ``_image``)."""
    depth = int(z.max()) + 1
    numerator = np.bincount(z, weights=along, minlength=depth)
    denominator = np.bincount(z, weights=weight, minlength=depth)
    valid = denominator > 0
    return (
        float(np.percentile(numerator[valid] / (denominator[valid] + 1e-9), 10)) if valid.any() else math.nan
    )


def inside_intensities(crop: StructureCrop, context: CaseContext) -> dict[str, float]:
    """Median intensity inside the mask per sequence (HU on CT, normalised on MR): what priors learn."""
    mask, _, stride = _subsampled(crop, context)
    view = tuple(slice(b.start, b.stop, s) for b, s in zip(crop.box, stride))
    values = {}
    for sequence, normalised, raw in zip(
        context.channels.sequences, context.channels.normalised, context.channels.raw
    ):
        image = raw.array[view] if context.modality == "CT" else normalised[view]
        values[sequence] = float(np.median(image[mask]))
    return values


def _in_plane_gradient(image: np.ndarray, spacing) -> tuple[np.ndarray, np.ndarray]:
    """d/dy and d/dx per mm (array axes 1 and 2) of a (z, y, x) crop."""
    gy = np.gradient(image, spacing[1], axis=1) if image.shape[1] > 1 else np.zeros_like(image)
    gx = np.gradient(image, spacing[2], axis=2) if image.shape[2] > 1 else np.zeros_like(image)
    return gy, gx

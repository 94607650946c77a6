"""The estimator's own entry point refuses an image with NaN voxels, so no structure is hidden as NaN."""

from __future__ import annotations

import numpy as np
import pytest

from SegQualityReviewLib.errors import SegQualityError
from SegQualityReviewLib.io import Geometry, LabelMap, StructureSet, Volume
from SegQualityReviewLib.quality import estimate_quality


def test_one_nan_voxel_in_the_image_is_one_clear_error_not_a_hidden_structure():
    geometry = Geometry(
        size=(16, 16, 8), spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0), direction=tuple(np.eye(3).ravel())
    )
    image = np.zeros((8, 16, 16), np.float32)
    image[4, 8, 8] = np.nan
    labels = np.zeros((8, 16, 16), np.uint8)
    labels[2:6, 4:12, 4:12] = 1
    structures = StructureSet.from_label_array(
        labels,
        geometry,
        label_map=LabelMap(names_by_value={1: "liver"}, source="<test>"),
        source="seg.nii.gz",
    )
    with pytest.raises(SegQualityError, match="NaN"):
        estimate_quality(
            Volume(array=image, geometry=geometry, source="ct.nii.gz"), structures, mode="classical"
        )

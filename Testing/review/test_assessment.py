"""Assessment against a reference on real data, worst slices, and the job folder run in another process."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

from SegQualityReviewLib.io import Geometry, StructureSet, Volume, read_structures, read_volume
from SegQualityReviewLib.process.progress_lines import parse_line
from SegQualityReviewLib.review import (
    Flag,
    assess_structures,
    read_job_result,
    run_job,
    worst_slices,
    write_job,
)

# The metric core runs on torch; the Slicer-Python tiers run these folders without it.
needs_torch = pytest.mark.skipif(
    importlib.util.find_spec("torch") is None, reason="the metric core needs torch (not in this environment)"
)


def _synthetic():
    geometry = Geometry(size=(20, 16, 10), spacing=(1.0, 1.0, 2.0), origin=(-5.0, 3.0, 7.0))
    gt = np.zeros(geometry.array_shape, bool)
    gt[2:8, 4:12, 5:15] = True
    pred = gt.copy()
    pred[6, :, :] = False
    pred[6, 0:3, 0:3] = True
    reference = StructureSet.from_masks({"Liver": gt}, geometry, source="gt")
    structures = StructureSet.from_masks({"liver": pred}, geometry, source="pred")
    volume = Volume(
        array=np.random.default_rng(0).normal(size=geometry.array_shape).astype(np.float32),
        geometry=geometry,
        source="ct",
    )
    return volume, structures, reference


def test_worst_slice_is_where_prediction_and_reference_disagree_most():
    _, structures, reference = _synthetic()
    assert worst_slices(structures, reference) == {"liver": 6}
    assert worst_slices(structures) == {"liver": 5}


@needs_torch
def test_metric_only_assessment_of_totalsegmentator_fast_against_full(shared_data):
    folder = shared_data / "totalsegmentator" / "ct_sm"
    label_map = shared_data / "labelmaps" / "totalsegmentator_total_v2.json"
    reference = read_structures(folder / "pred_total_v2.nii.gz", label_map=label_map)
    structures = read_structures(
        folder / "pred_total_fast_v2.nii.gz", label_map=label_map, reference=reference.geometry
    )
    volume = read_volume(folder / "image.nii.gz")
    # Ten structures the reference holds and three it leaves empty keep the test short.
    present = [n for n in reference.names if reference.mask(n).any()][:10]
    absent = [n for n in reference.names if not reference.mask(n).any()][:3]
    names = present + absent
    reference = StructureSet.from_masks(
        {n: reference.mask(n) for n in names}, reference.geometry, source="full"
    )
    structures = StructureSet.from_masks(
        {n: structures.mask(n) for n in names}, structures.geometry, source="fast"
    )
    items = assess_structures(volume, structures, reference=reference, use_estimator=False, threshold=0.7)
    assert sorted(i.structure for i in items) == sorted(names)
    known = [i.true_dice for i in items if i.true_dice is not None]
    assert known == sorted(known)
    assert all(
        (i.flag is Flag.BELOW_THRESHOLD) == (i.true_dice < 0.7) for i in items if i.true_dice is not None
    )
    scored = [i for i in items if i.metric_status == "ok"]
    assert scored and all(i.worst_slice is not None and 0 <= i.worst_slice < 30 for i in scored)


@needs_torch
def test_job_folder_runs_in_a_separate_process_and_round_trips(tmp_path):
    volume, structures, reference = _synthetic()
    write_job(tmp_path / "job", volume, structures, reference=reference, use_estimator=False, device="cpu")
    completed = subprocess.run(
        [sys.executable, "-m", "SegQualityReviewLib.review.assessment_worker", str(tmp_path / "job")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    events = [parse_line(line) for line in completed.stdout.splitlines()]
    assert [e.kind for e in events] == ["progress"] * len(events)
    assert (events[-1].fraction, events[-1].message) == (1.0, "Done")
    items = read_job_result(tmp_path / "job")
    assert [i.structure for i in items] == ["liver"]
    expected_dice = 2 * 400 / (409 + 480)  # 480 reference voxels, 80 dropped on z=6, 9 false positives there
    assert items[0].true_dice == pytest.approx(expected_dice, abs=1e-6)
    assert items[0].worst_slice == 6
    assert run_job(tmp_path / "job") == items


def test_job_error_is_one_error_line_and_exit_code_2(tmp_path):
    volume, structures, _ = _synthetic()
    write_job(tmp_path / "job", volume, structures, use_estimator=False)
    completed = subprocess.run(
        [sys.executable, "-m", "SegQualityReviewLib.review.assessment_worker", str(tmp_path / "job")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2
    assert (
        completed.stdout.strip().splitlines()[-1]
        == "ERROR pred: nothing to assess: the estimator is off and no reference is given"
    )


def test_job_without_estimator_or_reference_is_refused():
    volume, structures, _ = _synthetic()
    with pytest.raises(Exception, match="nothing to assess"):
        assess_structures(volume, structures, use_estimator=False)


@needs_torch
def test_the_job_child_prints_no_warning_that_could_become_a_failed_jobs_detail(tmp_path):
    # `-m ...review.assessment` made runpy warn (the package had already imported the module); with
    # warnings turned into errors that warning would now fail the run.
    volume, structures, reference = _synthetic()
    write_job(tmp_path / "job", volume, structures, reference=reference, use_estimator=False, device="cpu")
    completed = subprocess.run(
        [
            sys.executable,
            "-W",
            "error::RuntimeWarning",
            "-m",
            "SegQualityReviewLib.review.assessment_worker",
            str(tmp_path / "job"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert "Warning" not in completed.stderr

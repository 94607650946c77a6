"""The Logic's jobs and review state across scene close and module cleanup, on a real MRML scene: a closed
scene takes its reviews with it (node IDs restart in the next one), running jobs are stopped, a job that
ended before the close is refused rather than written into the new scene, and no job folder is left."""

from __future__ import annotations

import sys
import time

import numpy as np
import psutil
import pytest

from SegQualityReviewLib import mrml_bridge
from SegQualityReviewLib.io import Geometry, StructureSet, Volume
from SegQualityReviewLib.review import JobFailedError, StaleJobError, start_process

GEOMETRY = Geometry(size=(24, 20, 12), spacing=(1.0, 1.0, 2.0), origin=(-10.0, 5.0, 3.0))


def _case(scene):
    box = np.zeros(GEOMETRY.array_shape, bool)
    box[3:9, 5:15, 6:18] = True
    volume = mrml_bridge.add_volume_node(
        scene, Volume(array=box.astype(np.float32), geometry=GEOMETRY, source="ct"), name="ct"
    )
    segmentation = mrml_bridge.add_segmentation_node(
        scene,
        StructureSet.from_masks({"organ": np.roll(box, 2, axis=2)}, GEOMETRY),
        name="model",
        reference_volume_node=volume,
    )
    reference = mrml_bridge.add_segmentation_node(
        scene,
        StructureSet.from_masks({"organ": box}, GEOMETRY),
        name="reference",
        reference_volume_node=volume,
    )
    return volume, segmentation, reference


def _sleeper(command):
    return start_process(
        [sys.executable, "-c", "import time; print('PROGRESS 0.1 go', flush=True); time.sleep(120)"]
    )


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_scene_close_clears_the_review_state_so_a_reused_node_id_starts_afresh(scene, module, tmp_path):
    logic = module.SegQualityReviewLogic(autosaveFolder=str(tmp_path))
    volume, segmentation, reference = _case(scene)
    logic.assess(volume, segmentation, reference, useEstimator=False)
    assert logic.restoreReview(segmentation) is not None
    old_id = segmentation.GetID()
    scene.Clear(0)
    _, new_segmentation, _ = _case(scene)
    assert new_segmentation.GetID() == old_id
    assert logic.restoreReview(new_segmentation) is None
    with pytest.raises(ValueError, match="has not been assessed yet"):
        logic.decide(new_segmentation, "organ", "accepted")


def test_a_job_that_ended_before_the_scene_closed_is_not_written_into_the_next_scene(scene, module, tmp_path):
    logic = module.SegQualityReviewLogic(autosaveFolder=str(tmp_path))
    volume, segmentation, reference = _case(scene)
    run = logic.startAssessment(volume, segmentation, reference, useEstimator=False)
    run.wait()
    assert run.state == "completed"
    scene.Clear(0)
    _case(scene)
    tables_before = scene.GetNumberOfNodesByClass("vtkMRMLTableNode")
    with pytest.raises(StaleJobError, match="scene that has since been closed"):
        logic.finishJob(run)
    assert scene.GetNumberOfNodesByClass("vtkMRMLTableNode") == tables_before
    assert not run.scratch.exists()


def test_scene_close_and_cleanup_stop_running_jobs_and_remove_their_folders(scene, module, tmp_path):
    logic = module.SegQualityReviewLogic(processLauncher=_sleeper, autosaveFolder=str(tmp_path))
    volume, segmentation, reference = _case(scene)
    first = logic.startAssessment(volume, segmentation, reference, useEstimator=False)
    scene.Clear(0)
    assert first.state == "cancelled" and _gone(first.process.pid) and not first.scratch.exists()

    volume, segmentation, reference = _case(scene)
    second = logic.startAssessment(volume, segmentation, reference, useEstimator=False)
    assert logic.runningJobs == [second]
    logic.cleanup()
    assert second.state == "cancelled" and _gone(second.process.pid) and not second.scratch.exists()
    assert logic.runningJobs == []


def test_a_failed_job_leaves_no_folder_and_says_what_failed(scene, module, tmp_path):
    def crash(command):
        return start_process(
            [sys.executable, "-c", "print('ERROR the model file is damaged'); raise SystemExit(2)"]
        )

    logic = module.SegQualityReviewLogic(processLauncher=crash, autosaveFolder=str(tmp_path))
    volume, segmentation, reference = _case(scene)
    run = logic.startAssessment(volume, segmentation, reference, useEstimator=False)
    deadline = time.monotonic() + 30
    while not run.finished and time.monotonic() < deadline:
        run.poll()
        time.sleep(0.02)
    with pytest.raises(JobFailedError, match="The assessment: failed .*the model file is damaged"):
        logic.finishJob(run)
    assert not run.scratch.exists()
    assert mrml_bridge.review_table_node(scene, segmentation, role="items", create=False) is None


def test_segment_runs_in_the_background_and_cancel_removes_its_volume_copy(scene, module, tmp_path):
    logic = module.SegQualityReviewLogic(processLauncher=_sleeper, autosaveFolder=str(tmp_path))
    volume, _, _ = _case(scene)
    run = logic.startSegmentation(volume, "classical-body")
    assert not run.finished and (run.scratch / "image.nii").is_file()
    logic.cancelJob(run)
    assert run.state == "cancelled" and not run.scratch.exists()

"""The module's Widget on a real MRML scene, with Slicer's GUI replaced by the strict stand-ins of
Testing/slicer_rules: setup binds every parameter by Slicer's connector rules, every job runs without
blocking and ends with its button restored, shortcuts stay in the module panel, the threshold slider
writes once when it rests, and scene close and cleanup stop what runs."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import psutil
import pytest
from conftest import poll_until_idle

from SegQualityReviewLib import mrml_bridge
from SegQualityReviewLib.io import Geometry, StructureSet, Volume

GEOMETRY = Geometry(size=(24, 20, 12), spacing=(1.0, 1.0, 2.0), origin=(-10.0, 5.0, 3.0))


def _case(scene):
    reference = np.zeros(GEOMETRY.array_shape, bool)
    reference[3:9, 5:15, 6:18] = True
    shifted = np.roll(reference, 3, axis=2)
    # CT-like: air at -1000 HU around a soft-tissue box, so the classical segmenters accept it.
    volume = Volume(
        array=np.where(reference, 40.0, -1000.0).astype(np.float32), geometry=GEOMETRY, source="ct"
    )
    volume_node = mrml_bridge.add_volume_node(scene, volume, name="ct")
    segmentation = mrml_bridge.add_segmentation_node(
        scene,
        StructureSet.from_masks({"good": reference, "shifted": shifted}, GEOMETRY),
        name="model",
        reference_volume_node=volume_node,
    )
    reference_node = mrml_bridge.add_segmentation_node(
        scene,
        StructureSet.from_masks({"good": reference, "shifted": reference}, GEOMETRY),
        name="reference",
        reference_volume_node=volume_node,
    )
    return volume_node, segmentation, reference_node


def _select(widget, volume_node, segmentation, reference_node=None, *, use_estimator=False):
    parameters = widget._parameterNode
    parameters.inputVolume = volume_node
    parameters.inputSegmentation = segmentation
    parameters.referenceSegmentation = reference_node
    parameters.useEstimator = use_estimator
    # "shifted" has Dice 0.75: below this threshold, fine at 0.3.
    parameters.threshold = 0.8


def _sleeping_launcher(started: list):
    """A process launcher whose child sleeps (and starts a grandchild that sleeps too)."""
    import sys

    from SegQualityReviewLib.review import start_process

    def launch(command):
        code = (
            "import subprocess, sys, time; "
            "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']); "
            "print('PROGRESS 0.1 working', flush=True); time.sleep(120)"
        )
        runner = start_process([sys.executable, "-c", code])
        started.append(runner)
        return runner

    return launch


def _family(runner) -> list:
    deadline = time.monotonic() + 10
    parent = psutil.Process(runner.pid)
    while not parent.children() and time.monotonic() < deadline:
        time.sleep(0.05)
    return [parent] + parent.children(recursive=True)


def _gone(process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_setup_binds_every_parameter_and_keeps_the_segmenters_in_their_combo_box(widget, gui):
    combo = widget.ui.segmenterComboBox
    assert combo.count >= 2 and combo.findText("classical-body") >= 0
    assert gui.errors == []
    slider = widget.ui.thresholdSliderWidget
    assert (slider.minimum, slider.maximum, slider.value) == (0.0, 1.0, 0.7)
    slider.value = 0.55
    assert widget._parameterNode.threshold == pytest.approx(0.55)
    combo.currentText = "classical-body"
    assert widget._parameterNode.segmenterModel == "classical-body"


def test_assess_button_runs_the_job_without_blocking_and_fills_the_results(widget, gui, scene):
    volume_node, segmentation, reference_node = _case(scene)
    _select(widget, volume_node, segmentation, reference_node)
    widget.ui.assessButton.click()
    assert widget.isJobRunning("assessment") and widget.ui.assessButton.text == "Cancel"
    poll_until_idle(widget, "assessment")
    assert gui.errors == [] and widget.ui.assessButton.text == "Assess"
    table = widget.ui.resultsTable
    assert table.rowCount == 2 and [table.item(r, 1).text() for r in range(2)] == ["shifted", "good"]
    assert widget.ui.alertLabel.text == "1 structure needs review"
    assert widget.ui.progressBar.value == 100

    table.selectRow(0)
    assert gui.jumps, "selecting a structure centres the slice views on its worst slice"
    widget.ui.noteLineEdit.text = "off by three | again"
    widget.ui.rejectButton.click()
    assert mrml_bridge.segment_tags(segmentation, "shifted", keys=["decision", "note"]) == {
        "decision": "rejected",
        "note": "off by three | again",
    }


def test_cancel_button_ends_the_whole_process_tree_and_removes_the_job_folder(widget, gui, scene):
    started = []
    widget.logic._launch = _sleeping_launcher(started)
    volume_node, segmentation, reference_node = _case(scene)
    _select(widget, volume_node, segmentation, reference_node)
    widget.ui.assessButton.click()
    run = widget._panels["assessment"].run
    family = _family(started[0])
    assert run.scratch.is_dir() and len(family) == 2
    widget.ui.assessButton.click()
    assert not widget.isJobRunning("assessment") and widget.ui.assessButton.text == "Assess"
    assert widget.ui.statusLabel.text == "Cancelled" and not run.scratch.exists()
    assert all(_gone(process) for process in family)
    assert widget.logic.runningJobs == []


def test_a_failed_comparison_shows_one_error_and_gives_the_button_back(widget, gui, tmp_path):
    parameters = widget._parameterNode
    reference = tmp_path / "gt"
    reference.mkdir()
    (tmp_path / "pred").mkdir()
    parameters.batchReferenceFolder = reference
    parameters.batchPredictionFolders = f"model={tmp_path / 'pred'}"
    parameters.batchOutputFolder = tmp_path / "out"
    widget.ui.runBatchButton.click()
    assert widget.isJobRunning("comparison") and widget.ui.runBatchButton.text == "Cancel"
    poll_until_idle(widget, "comparison")
    assert widget.ui.runBatchButton.text == "Run comparison"
    assert len(gui.errors) == 1 and gui.errors[0].startswith("The comparison failed.")


def test_segment_button_runs_the_segmenter_in_the_background_and_selects_its_result(widget, gui, scene):
    volume_node, _, _ = _case(scene)
    widget._parameterNode.inputVolume = volume_node
    widget.ui.segmenterComboBox.currentText = "classical-body"
    widget.ui.runSegmenterButton.click()
    # The click returns while the segmenter's process is still starting: the GUI never waits for it.
    assert not widget._panels["segmentation"].run.finished
    assert widget.isJobRunning("segmentation") and widget.ui.runSegmenterButton.text == "Cancel"
    assert not widget.ui.assessButton.enabled, "one job at a time on the Review tab"
    poll_until_idle(widget, "segmentation")
    assert gui.errors == [] and widget.ui.runSegmenterButton.text == "Segment"
    result = widget._parameterNode.inputSegmentation
    assert result is not None and result.GetName() == "ct classical-body"


def test_shortcuts_belong_to_the_module_panel_not_the_main_window(widget, scene):
    import qt

    assert [s.parent() for s in widget._shortcuts] == [widget.parent, widget.parent]
    assert all(s.context == qt.Qt.WidgetWithChildrenShortcut for s in widget._shortcuts)


def test_threshold_changes_are_written_once_when_the_slider_rests(widget, gui, scene, monkeypatch):
    volume_node, segmentation, reference_node = _case(scene)
    _select(widget, volume_node, segmentation, reference_node)
    widget.ui.assessButton.click()
    poll_until_idle(widget, "assessment")
    autosave = Path(widget.logic._autosavePath(segmentation))
    written = autosave.stat().st_mtime_ns
    tagged = []
    set_tags = mrml_bridge.set_segment_tags
    monkeypatch.setattr(
        mrml_bridge,
        "set_segment_tags",
        lambda node, structure, tags: (tagged.append(structure), set_tags(node, structure, tags)),
    )
    time.sleep(0.01)
    for value in (0.69, 0.6, 0.5, 0.4, 0.3):
        widget.ui.thresholdSliderWidget.value = value
    assert autosave.stat().st_mtime_ns == written and tagged == [], "nothing is written while the value moves"
    assert widget._thresholdTimer.isActive()
    widget._thresholdTimer.fire()
    assert autosave.stat().st_mtime_ns > written
    assert widget.logic.restoreReview(segmentation).context.threshold == pytest.approx(0.3)
    # Only the segment whose flag changed ("shifted", Dice 0.75, is fine at 0.3) gets new tags.
    assert tagged == ["shifted"]
    assert mrml_bridge.segment_tags(segmentation, "shifted", keys=["flag"]) == {"flag": "fine"}


def test_scene_close_stops_the_job_and_the_old_review_does_not_reappear(widget, gui, scene):
    volume_node, segmentation, reference_node = _case(scene)
    _select(widget, volume_node, segmentation, reference_node)
    widget.ui.assessButton.click()
    poll_until_idle(widget, "assessment")
    started = []
    widget.logic._launch = _sleeping_launcher(started)
    widget.ui.assessButton.click()
    family = _family(started[0])
    scene.Clear(0)
    assert not widget.isJobRunning("assessment") and all(_gone(process) for process in family)
    assert widget.ui.resultsTable.rowCount == 0

    # The new scene reuses the node IDs: the same ID must not bring the old review back.
    volume_node, new_segmentation, _ = _case(scene)
    assert new_segmentation.GetID() == segmentation.GetID()
    _select(widget, volume_node, new_segmentation)
    assert widget.ui.resultsTable.rowCount == 0 and widget.ui.alertLabel.text == ""


def test_cleanup_stops_a_running_job(widget, scene):
    started = []
    widget.logic._launch = _sleeping_launcher(started)
    volume_node, segmentation, reference_node = _case(scene)
    _select(widget, volume_node, segmentation, reference_node)
    widget.ui.assessButton.click()
    family = _family(started[0])
    widget.cleanup()
    assert all(_gone(process) for process in family)
    assert widget.logic.runningJobs == []


def test_the_module_test_case_builds_the_widget_and_assesses_with_the_estimator(gui, module, scene):
    case = module.SegQualityReviewTest("test_widget_assesses_with_the_estimator")
    case.test_widget_assesses_with_the_estimator()
    assert gui.errors == []

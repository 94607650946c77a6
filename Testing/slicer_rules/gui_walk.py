"""Walk every path the module's GUI reaches before its dependencies are installed, in a process that has
only what Slicer ships (``boundary``): load the module, build the Widget, reopen a scene that holds a
review, select, decide, write a note, step with the shortcuts, move the threshold, export, press Assess,
Segment, Propose with MedSAM and Run comparison while the user declines the install, close the scene,
clean up.

Run as ``python -m slicer_rules.gui_walk REPORT.json`` (``Testing`` on the path). The report lists the
refused imports, the error dialogs and questions the user saw, and each step done; an assertion error
(exit code 1) names the step whose result was wrong.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import tempfile
from pathlib import Path


def main(report_path: str) -> int:
    from slicer_rules import boundary

    hook = boundary.install()
    report = {"steps": [], "refused": hook.refused}
    try:
        _walk(report)
    finally:
        Path(report_path).write_text(json.dumps(report, indent=1), encoding="utf-8")
    return 0


def _walk(report: dict) -> None:
    import numpy as np
    import slicer
    from slicer_rules import boundary
    from slicer_rules.fake_slicer import GuiSession, install_module_stand_ins
    from slicer_rules.module_source import MODULE_FILE
    from vtkmodules.vtkCommonCore import vtkCollection

    steps = report["steps"]
    scene = slicer.vtkMRMLScene()
    application = slicer.vtkSlicerApplicationLogic()
    application.SetMRMLScene(scene)
    application.SetSliceLogics(vtkCollection())
    application.SetViewLogics(vtkCollection())
    keep_alive = [scene, application]
    for name, logic in (
        ("Segmentations", slicer.vtkSlicerSegmentationsModuleLogic()),
        ("SubjectHierarchy", slicer.vtkSlicerSubjectHierarchyModuleLogic()),
    ):
        logic.SetMRMLScene(scene)
        logic.SetMRMLApplicationLogic(application)
        application.SetModuleLogic(name, logic)
        keep_alive.append(logic)
    slicer.mrmlScene = scene
    slicer.applicationLogic = application

    temporary = Path(tempfile.mkdtemp(prefix="segquality-gui-walk-"))
    install_module_stand_ins()
    with GuiSession(confirm=False, temporary_path=str(temporary)) as gui:
        import qt

        spec = importlib.util.spec_from_file_location("SegQualityReview", MODULE_FILE)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        steps.append("module file loaded")

        class ModulePanel:
            pass

        module.SegQualityReview(ModulePanel())
        steps.append("module class built")

        parent = slicer.qMRMLWidget()
        parent.setLayout(qt.QVBoxLayout())
        parent.setMRMLScene(scene)
        widget = module.SegQualityReviewWidget(parent)
        widget.setup()
        widget.enter()
        assert widget.ui.segmenterComboBox.count >= 1, "the segmenters are listed"
        steps.append("widget set up")

        volume_node, segmentation, reference = _scene_with_a_saved_review(widget, scene, np)
        widget.logic._sessions.clear()  # as after reopening the scene: the review is only in the scene
        parameters = widget._parameterNode
        parameters.inputVolume = volume_node
        parameters.inputSegmentation = segmentation
        parameters.referenceSegmentation = reference
        assert widget.ui.resultsTable.rowCount == 2, "the reopened scene's review is shown"
        steps.append("saved review restored from the scene")

        widget.ui.resultsTable.selectRow(0)
        assert gui.jumps, "selecting a structure centres the views"
        widget.ui.acceptButton.click()
        widget.ui.noteLineEdit.text = "checked | fine\non two lines"
        widget.ui.noteLineEdit.emit("editingFinished()")
        widget.ui.needsEditButton.click()
        assert gui.selected_modules == ["SegmentEditor"]
        widget._shortcuts[0].activate()
        widget._shortcuts[1].activate()
        steps.append("decisions, note, Segment Editor and shortcuts")

        widget.ui.thresholdSliderWidget.value = 0.95
        widget._thresholdTimer.fire()
        assert widget.logic.restoreReview(segmentation).context.threshold == 0.95
        widget.ui.exportDirectoryButton.directory = str(temporary / "export")
        widget.ui.exportButton.click()
        assert (temporary / "export" / "model.review.csv").is_file()
        steps.append("threshold and export")

        for button, kind in (
            (widget.ui.assessButton, "assessment"),
            (widget.ui.runSegmenterButton, "segmentation"),
            (widget.ui.proposeButton, "proposal"),
            (widget.ui.runBatchButton, "comparison"),
        ):
            if kind == "proposal":
                widget.ui.resultsTable.selectRow(0)  # "shifted", marked needs edit above
                assert widget.ui.proposeButton.enabled, widget.ui.proposeButton.toolTip
            if kind == "comparison":
                parameters.batchReferenceFolder = temporary
                parameters.batchPredictionFolders = f"model={temporary}"
                parameters.batchOutputFolder = temporary / "batch"
            before = len(gui.errors)
            button.click()
            assert not widget.isJobRunning(kind), f"{kind} must not start without its dependencies"
            assert len(gui.errors) == before + 1 and "not installed" in gui.errors[-1], gui.errors[before:]
        assert len(gui.questions) == 4, "each action asked to install the dependencies"
        steps.append("Assess, Segment, Propose and Run comparison ask to install, and stop when declined")

        scene.Clear(0)
        assert widget.ui.resultsTable.rowCount == 0
        widget.exit()
        widget.cleanup()
        steps.append("scene closed, widget cleaned up")
        report["errors"] = gui.errors
        report["questions"] = gui.questions
        report["heavy_modules_loaded"] = sorted(
            name for name in boundary.KNOWN_DEPENDENCIES if name in sys.modules
        )
    del keep_alive


def _scene_with_a_saved_review(widget, scene, np):
    """A volume, a segmentation and its review tables, as a scene saved by an earlier session holds them."""
    from SegQualityReviewLib import mrml_bridge
    from SegQualityReviewLib.io import Geometry, StructureSet, Volume
    from SegQualityReviewLib.review import Flag, ReviewContext, ReviewItem, ReviewSession

    geometry = Geometry(size=(24, 20, 12), spacing=(1.0, 1.0, 2.0), origin=(-10.0, 5.0, 3.0))
    box = np.zeros(geometry.array_shape, bool)
    box[3:9, 5:15, 6:18] = True
    volume_node = mrml_bridge.add_volume_node(
        scene, Volume(array=box.astype(np.float32), geometry=geometry, source="ct"), name="ct"
    )
    masks = {"good": box, "shifted": np.roll(box, 3, axis=2)}
    segmentation = mrml_bridge.add_segmentation_node(
        scene, StructureSet.from_masks(masks, geometry), name="model", reference_volume_node=volume_node
    )
    reference = mrml_bridge.add_segmentation_node(
        scene,
        StructureSet.from_masks({"good": box}, geometry),
        name="reference",
        reference_volume_node=volume_node,
    )
    items = [
        ReviewItem(structure="shifted", flag=Flag.BELOW_THRESHOLD, true_dice=0.75, worst_slice=5),
        ReviewItem(structure="good", flag=Flag.FINE, true_dice=1.0, worst_slice=5),
    ]
    session = ReviewSession(items, context=ReviewContext(volume="ct", segmentation="model", threshold=0.8))
    widget.logic._writeReviewToScene(segmentation, session)
    return volume_node, segmentation, reference


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

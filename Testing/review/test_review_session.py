"""Review records: flags, ordering, decisions with an audit log, autosave, reload and export."""

from __future__ import annotations

import csv
import json
from types import SimpleNamespace

import pytest

from SegQualityReviewLib.review import (
    COLUMNS,
    Decision,
    Flag,
    ReviewContext,
    ReviewFileError,
    ReviewItem,
    ReviewRecordError,
    ReviewSession,
    autosave_path_for,
    build_items,
    flag_for,
)


def _estimate(name, dice, low, high, worst):
    return SimpleNamespace(
        structure=name, predicted_dice=dice, interval_low=low, interval_high=high, worst_slice=worst
    )


def _score(name, dice, status="ok"):
    return SimpleNamespace(structure=name, dice=dice, hd95=4.5, nsd=0.8, status=status, failure_mode="")


@pytest.fixture()
def items():
    return build_items(
        estimates=[
            _estimate("liver", 0.93, 0.90, 0.96, 12),
            _estimate("spleen", 0.41, 0.30, 0.55, 7),
            _estimate("kidney_left", 0.72, 0.64, 0.80, 9),
            _estimate("aorta", 0.66, 0.60, 0.71, 3),
        ],
        scores=[_score("liver", 0.95), _score("spleen", 0.38)],
        threshold=0.7,
    )


def test_flags_follow_threshold_margin_and_interval():
    assert flag_for(0.69, threshold=0.7) is Flag.BELOW_THRESHOLD
    assert flag_for(0.72, threshold=0.7) is Flag.BORDERLINE
    assert flag_for(0.80, threshold=0.7, interval_low=0.65) is Flag.BORDERLINE
    assert flag_for(0.80, threshold=0.7, interval_low=0.75) is Flag.FINE
    assert flag_for(None, threshold=0.7) is Flag.UNKNOWN
    assert flag_for(float("nan"), threshold=0.7) is Flag.UNKNOWN


def test_items_sorted_worst_first_and_merge_true_metrics_by_name(items):
    assert [item.structure for item in items] == ["spleen", "aorta", "kidney_left", "liver"]
    spleen = items[0]
    assert spleen.flag is Flag.BELOW_THRESHOLD and spleen.true_dice == pytest.approx(0.38)
    assert spleen.worst_slice == 7 and spleen.metric_status == "ok"
    assert items[2].flag is Flag.BORDERLINE and items[3].flag is Flag.FINE
    assert items[1].true_dice is None


def test_metric_only_items_are_flagged_by_true_dice_and_get_given_worst_slices():
    items = build_items(
        scores=[_score("a", 0.2), _score("b", 0.9), _score("c", None, "not_supported")],
        worst_slices={"a": 4},
        threshold=0.5,
    )
    assert [(i.structure, i.flag) for i in items] == [
        ("a", Flag.BELOW_THRESHOLD),
        ("b", Flag.FINE),
        ("c", Flag.UNKNOWN),
    ]
    assert items[0].worst_slice == 4 and items[1].worst_slice is None


def test_decisions_are_logged_with_who_and_when_and_autosaved_at_once(items, tmp_path):
    autosave = tmp_path / "scene.seg.review.json"
    changed = []
    session = ReviewSession(
        items,
        context=ReviewContext(segmentation="seg", threshold=0.7),
        autosave_path=autosave,
        on_change=changed.append,
    )
    assert session.alert_text() == "2 structures need review"
    session.decide(
        "spleen",
        Decision.REJECTED,
        note="misses the lower pole",
        reviewer="ana",
        at="2026-01-02T03:04:05+00:00",
    )
    assert session.alert_text() == "1 structure needs review"
    document = json.loads(autosave.read_text())
    saved = {item["structure"]: item for item in document["items"]}
    assert saved["spleen"]["decision"] == "rejected" and saved["spleen"]["reviewer"] == "ana"
    assert document["audit"] == [
        {
            "structure": "spleen",
            "decision": "rejected",
            "previous_decision": "pending",
            "note": "misses the lower pole",
            "reviewer": "ana",
            "at": "2026-01-02T03:04:05+00:00",
        }
    ]
    session.decide("spleen", "accepted")
    assert [c.decision for c in changed] == [Decision.REJECTED, Decision.ACCEPTED]
    assert session.item("spleen").note == "misses the lower pole"
    assert session.audit[-1].previous_decision == "rejected" and session.audit[-1].reviewer


def test_reload_restores_items_decisions_and_audit(items, tmp_path):
    session = ReviewSession(items, context=ReviewContext(volume="ct", segmentation="seg", threshold=0.7))
    session.decide("aorta", Decision.NEEDS_EDIT, note="leaks into the IVC", reviewer="bo")
    path = session.save(tmp_path / "review.json")
    reloaded = ReviewSession.load(path)
    assert reloaded.items == session.items
    assert reloaded.audit == session.audit
    assert reloaded.context == session.context


def test_export_writes_csv_with_every_column_and_json(items, tmp_path):
    session = ReviewSession(items)
    session.decide("liver", Decision.ACCEPTED, reviewer="cy")
    csv_path, json_path = session.export(tmp_path / "out")
    with csv_path.open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert tuple(rows[0]) == COLUMNS
    assert [row["structure"] for row in rows] == ["spleen", "aorta", "kidney_left", "liver"]
    assert rows[3]["decision"] == "accepted" and float(rows[0]["predicted_dice"]) == pytest.approx(0.41)
    assert [ReviewItem.from_mapping(row) for row in rows] == session.items
    assert json.loads(json_path.read_text())["format"] == "SegQualityReview.review"


def test_next_and_previous_flagged_skip_fine_structures_and_wrap(items):
    session = ReviewSession(items)
    assert session.next_flagged(None) == "spleen"
    assert session.next_flagged("spleen") == "aorta"
    assert session.next_flagged("kidney_left") == "spleen"
    assert session.next_flagged("liver") == "spleen"
    assert session.next_flagged("spleen", step=-1) == "kidney_left"
    assert session.next_flagged(None, step=-1) == "kidney_left"


def test_threshold_change_reflags_and_keeps_decisions(items):
    session = ReviewSession(items)
    session.decide("kidney_left", Decision.ACCEPTED, reviewer="dd")
    session.set_threshold(0.95)
    assert session.item("liver").flag is Flag.BELOW_THRESHOLD
    assert session.item("kidney_left").decision is Decision.ACCEPTED
    assert session.needs_review_count == 3


def test_user_errors_name_the_problem(items, tmp_path):
    session = ReviewSession(items, context=ReviewContext(segmentation="seg"))
    with pytest.raises(ReviewRecordError, match="no structure named 'pancreas'"):
        session.decide("pancreas", Decision.ACCEPTED)
    with pytest.raises(ReviewRecordError, match="unknown decision 'maybe'"):
        session.decide("liver", "maybe")
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}')
    with pytest.raises(ReviewFileError, match="bad.json"):
        ReviewSession.load(bad)
    with pytest.raises(ReviewFileError, match="not found"):
        ReviewSession.load(tmp_path / "missing.json")


def test_autosave_lives_beside_the_scene_or_in_the_fallback_folder(tmp_path):
    beside = autosave_path_for(
        tmp_path / "case1.mrml", fallback_folder="/unused", segmentation="TotalSeg: v2"
    )
    assert beside == tmp_path / "case1.TotalSeg__v2.review.json"
    assert (
        autosave_path_for(None, fallback_folder=tmp_path, segmentation="seg") == tmp_path / "seg.review.json"
    )

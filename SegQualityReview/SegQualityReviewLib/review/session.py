"""A review in progress: decisions with an audit log, autosaved to JSON at once, exported as CSV or JSON.

MedSAM proposals (``proposals.ProposalRecord``) live here too: each is a new item beside its original,
a record with both versions, and audit entries for the proposal and for the decision taken on it.
"""

from __future__ import annotations

import csv
import getpass
import json
import os
import tempfile
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from .items import COLUMNS, Decision, Flag, ReviewItem, ReviewRecordError, reflag, sort_items
from .proposals import ProposalDecision, ProposalError, ProposalRecord

FORMAT_NAME = "SegQualityReview.review"
# 2: MedSAM proposals ("proposals"). Version 1 files read as reviews without proposals.
FORMAT_VERSION = 2
# The audit log's decision when a proposal is made (the decisions on it are ProposalDecision values).
PROPOSED = "proposed"


class ReviewFileError(ReviewRecordError):
    """A review JSON file is missing, unreadable or not a SegQualityReview review."""


@dataclass(frozen=True)
class AuditEntry:
    """One decision as it was made: who, when, what it replaced."""

    structure: str
    decision: str
    previous_decision: str
    note: str
    reviewer: str
    at: str


@dataclass(frozen=True)
class ReviewContext:
    """What was reviewed: node or file names of the volume, segmentation and optional reference."""

    volume: str = ""
    segmentation: str = ""
    reference: str = ""
    threshold: float = 0.7


def default_reviewer() -> str:
    """The operating-system user name, the reviewer recorded when none is given."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def utc_now() -> str:
    """The current time as ISO-8601 UTC with seconds, as written in the audit log."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


class ReviewSession:
    """The items of one review, the decisions taken on them and their audit log.

    With ``autosave_path`` every decision is written to that JSON file before ``decide`` returns, so a
    crash loses nothing. ``on_change`` is called with the changed item (the Slicer Logic mirrors it into
    the scene there).
    """

    def __init__(
        self,
        items: Sequence[ReviewItem],
        *,
        context: ReviewContext = ReviewContext(),
        audit: Sequence[AuditEntry] = (),
        proposals: Sequence[ProposalRecord] = (),
        autosave_path: str | Path | None = None,
        on_change: Callable[[ReviewItem], None] | None = None,
    ) -> None:
        self._items = {item.structure: item for item in sort_items(items)}
        self.context = context
        self._audit = list(audit)
        self._proposals = list(proposals)
        self.autosave_path = Path(autosave_path) if autosave_path else None
        self.on_change = on_change

    @property
    def items(self) -> list[ReviewItem]:
        """Items in review order: worst predicted quality first."""
        return list(self._items.values())

    @property
    def audit(self) -> list[AuditEntry]:
        return list(self._audit)

    @property
    def proposals(self) -> list[ProposalRecord]:
        """Every MedSAM proposal made in this review, oldest first."""
        return list(self._proposals)

    def item(self, structure: str) -> ReviewItem:
        if structure not in self._items:
            raise ReviewRecordError(
                f"review of {self.context.segmentation or 'this segmentation'}: "
                f"no structure named '{structure}'"
            )
        return self._items[structure]

    @property
    def needs_review_count(self) -> int:
        """Structures below the threshold that nobody has decided on yet."""
        return sum(item.needs_review for item in self._items.values())

    def alert_text(self) -> str:
        """The one-line alert shown above the results table."""
        count = self.needs_review_count
        if count == 0:
            return "No structure needs review"
        return f"{count} structure{'s' if count != 1 else ''} need{'s' if count == 1 else ''} review"

    def decide(
        self,
        structure: str,
        decision: Decision | str,
        *,
        note: str | None = None,
        reviewer: str | None = None,
        at: str | None = None,
    ) -> ReviewItem:
        """Record a decision (and optional note) on one structure, log it, autosave and notify."""
        previous = self.item(structure)
        try:
            decision = Decision(decision)
        except ValueError:
            raise ReviewRecordError(f"structure '{structure}': unknown decision '{decision}'") from None
        reviewer = reviewer or default_reviewer()
        at = at or utc_now()
        updated = replace(
            previous,
            decision=decision,
            note=previous.note if note is None else note,
            reviewer=reviewer,
            decided_at=at,
        )
        self._items[structure] = updated
        self._audit.append(
            AuditEntry(
                structure=structure,
                decision=decision.value,
                previous_decision=previous.decision.value,
                note=updated.note,
                reviewer=reviewer,
                at=at,
            )
        )
        self._changed(updated)
        return updated

    def add_proposal(self, record: ProposalRecord, item: ReviewItem) -> ProposalRecord:
        """Add a MedSAM proposal: its ``item`` (named as its segment) joins the review beside the
        original's, and the audit log gets one ``proposed`` entry naming both versions."""
        original = self.item(record.structure)
        if item.structure != record.proposal_segment or item.structure in self._items:
            raise ProposalError(
                f"proposal '{record.proposal_segment}': its item is named '{item.structure}', or a "
                "structure of that name is already in the review"
            )
        proposed_by = record.proposed_by or default_reviewer()
        record = replace(record, proposed_by=proposed_by, proposed_at=record.proposed_at or utc_now())
        self._items = {i.structure: i for i in sort_items([*self._items.values(), item])}
        self._proposals.append(record)
        self._audit.append(
            AuditEntry(
                structure=record.structure,
                decision=PROPOSED,
                previous_decision=original.decision.value,
                note=record.audit_note(),
                reviewer=proposed_by,
                at=record.proposed_at,
            )
        )
        self._changed(item)
        return record

    def proposal(self, name: str) -> ProposalRecord:
        """The proposal whose segment is ``name``, else the latest proposal for structure ``name``."""
        for record in reversed(self._proposals):
            if record.proposal_segment == name:
                return record
        for record in reversed(self._proposals):
            if record.structure == name:
                return record
        raise ProposalError(
            f"review of {self.context.segmentation or 'this segmentation'}: no proposal for '{name}'"
        )

    def decide_proposal(
        self,
        name: str,
        decision: ProposalDecision | str,
        *,
        note: str | None = None,
        reviewer: str | None = None,
        at: str | None = None,
    ) -> ProposalRecord:
        """Accept the proposal ``name`` (its segment, or its structure's latest) or keep the original.

        The proposal's item becomes accepted or rejected; the original's item is left as the reviewer
        left it, and neither segment is touched. The audit log gets one entry naming both versions.
        """
        record = self.proposal(name)
        try:
            decision = ProposalDecision(decision)
        except ValueError:
            decision = None
        if decision is None or decision is ProposalDecision.PENDING:
            choices = ", ".join(d.value for d in ProposalDecision if d is not ProposalDecision.PENDING)
            raise ProposalError(f"proposal '{record.proposal_segment}': decision must be one of {choices}")
        reviewer = reviewer or default_reviewer()
        at = at or utc_now()
        updated = replace(
            record,
            decision=decision,
            note=record.note if note is None else note,
            decided_by=reviewer,
            decided_at=at,
        )
        self._proposals[self._proposals.index(record)] = updated
        item = replace(
            self.item(record.proposal_segment),
            decision=Decision.ACCEPTED if decision is ProposalDecision.ACCEPT_PROPOSAL else Decision.REJECTED,
            reviewer=reviewer,
            decided_at=at,
        )
        self._items[item.structure] = item
        self._audit.append(
            AuditEntry(
                structure=record.structure,
                decision=decision.value,
                previous_decision=record.decision.value,
                note="; ".join(text for text in (updated.audit_note(), updated.note) if text),
                reviewer=reviewer,
                at=at,
            )
        )
        self._changed(item)
        return updated

    def set_threshold(self, threshold: float) -> None:
        """Re-flag every item against a new threshold; decisions stay."""
        self.context = replace(self.context, threshold=float(threshold))
        self._items = {item.structure: item for item in reflag(self.items, threshold=threshold)}
        if self.autosave_path:
            self.save(self.autosave_path)

    def next_flagged(self, current: str | None, *, step: int = 1) -> str | None:
        """The next (``step=1``) or previous (``step=-1``) structure that is not fine, wrapping around."""
        ordered = list(self._items.values())
        positions = [index for index, item in enumerate(ordered) if item.structure == current]
        start = positions[0] if positions else (-1 if step > 0 else len(ordered))
        for offset in range(1, len(ordered) + 1):
            candidate = ordered[(start + step * offset) % len(ordered)]
            if candidate.flag is not Flag.FINE:
                return candidate.structure
        return None

    def as_document(self) -> dict[str, Any]:
        """The whole review as one JSON-ready document (the autosave and the JSON export)."""
        return {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "context": asdict(self.context),
            "saved_at": utc_now(),
            "items": [item.as_dict() for item in self._items.values()],
            "audit": [asdict(entry) for entry in self._audit],
            "proposals": [record.as_dict() for record in self._proposals],
        }

    def save(self, path: str | Path) -> Path:
        """Write the review JSON atomically (a half-written file never replaces a good one)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(self.as_document(), stream, indent=1)
        os.replace(temporary, path)
        return path

    def export_csv(self, path: str | Path) -> Path:
        """One row per structure with every item column, in review order."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as stream:
            writer = csv.DictWriter(stream, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(item.as_row() for item in self._items.values())
        return path

    def export(self, folder: str | Path, *, stem: str = "review") -> tuple[Path, Path]:
        """Write ``<stem>.csv`` and ``<stem>.json`` into ``folder``; returns both paths."""
        folder = Path(folder)
        return self.export_csv(folder / f"{stem}.csv"), self.save(folder / f"{stem}.json")

    @classmethod
    def load(cls, path: str | Path, **options: Any) -> ReviewSession:
        """Reopen a review JSON written by ``save`` (options as for the constructor)."""
        path = Path(path)
        if not path.is_file():
            raise ReviewFileError(f"{path}: review file not found")
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ReviewFileError(f"{path}: not a readable review JSON ({error})") from None
        return cls.from_document(document, source=str(path), **options)

    @classmethod
    def from_document(
        cls, document: Any, *, source: str = "review document", **options: Any
    ) -> ReviewSession:
        """Rebuild a review from ``as_document`` output."""
        if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
            raise ReviewFileError(f"{source}: not a {FORMAT_NAME} document")
        if int(document.get("version", 0)) > FORMAT_VERSION:
            raise ReviewFileError(f"{source}: written by a newer version (format {document['version']})")
        context = ReviewContext(
            **{
                k: v
                for k, v in document.get("context", {}).items()
                if k in ReviewContext.__dataclass_fields__
            }
        )
        items = [ReviewItem.from_mapping(values, source=source) for values in document.get("items", [])]
        try:
            audit = [AuditEntry(**entry) for entry in document.get("audit", [])]
        except TypeError as error:
            raise ReviewFileError(f"{source}: malformed audit entry ({error})") from None
        proposals = [
            ProposalRecord.from_mapping(values, source=source) for values in document.get("proposals", [])
        ]
        return cls(items, context=context, audit=audit, proposals=proposals, **options)

    def _changed(self, item: ReviewItem) -> None:
        if self.autosave_path:
            self.save(self.autosave_path)
        if self.on_change:
            self.on_change(item)


def autosave_path_for(
    scene_path: str | Path | None, *, fallback_folder: str | Path, segmentation: str
) -> Path:
    """Where a review autosaves: beside the saved scene file, else in ``fallback_folder``.

    The segmentation name is part of the file name, so reviews of two segmentations in one scene do
    not overwrite each other.
    """
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in segmentation) or "segmentation"
    if scene_path:
        scene_path = Path(scene_path)
        return scene_path.parent / f"{scene_path.stem}.{safe}.review.json"
    return Path(fallback_folder) / f"{safe}.review.json"

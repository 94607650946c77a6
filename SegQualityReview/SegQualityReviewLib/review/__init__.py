"""Human review of a segmentation, structure by structure (plain Python; the Slicer module mirrors it).

Public API:
- ``ReviewItem`` (frozen): structure, flag, predicted_dice, interval_low/high, worst_slice (z index),
  true_dice / true_hd95_mm / true_nsd / metric_status / failure_mode (with a reference), decision, note,
  reviewer, decided_at. ``Flag``: below_threshold | borderline | fine | unknown. ``Decision``: pending |
  accepted | rejected | needs_edit.
- ``build_items(estimates=, scores=, worst_slices=, threshold=)`` merges estimator and metric output by name.
- ``ReviewSession(items, context=, autosave_path=, on_change=)``: ``decide(structure, decision, note=,
  reviewer=)`` logs who and when and autosaves at once; ``next_flagged``; ``alert_text``; ``save`` /
  ``load`` (JSON); ``export(folder)`` writes review.csv and review.json.
- ``assess_structures(volume, structures, reference=, threshold=)`` and the job folder functions
  (``write_job``, ``run_job``, ``read_job_result``) that run it in a separate process.
"""

from .assessment import (
    EstimatorUnavailableError,
    assess_structures,
    parse_progress_line,
    read_job_result,
    run_job,
    worst_slices,
    write_job,
)
from .items import COLUMNS, Decision, Flag, ReviewItem, ReviewRecordError, build_items, flag_for, sort_items
from .session import (
    AuditEntry,
    ReviewContext,
    ReviewFileError,
    ReviewSession,
    autosave_path_for,
    default_reviewer,
)

__all__ = [
    "COLUMNS",
    "AuditEntry",
    "Decision",
    "EstimatorUnavailableError",
    "Flag",
    "ReviewContext",
    "ReviewFileError",
    "ReviewItem",
    "ReviewRecordError",
    "ReviewSession",
    "assess_structures",
    "autosave_path_for",
    "build_items",
    "default_reviewer",
    "flag_for",
    "parse_progress_line",
    "read_job_result",
    "run_job",
    "sort_items",
    "worst_slices",
    "write_job",
]

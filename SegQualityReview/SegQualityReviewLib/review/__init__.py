"""Human review of a segmentation, structure by structure (plain Python; the Slicer module mirrors it).

Imported by the Slicer GUI before the module's dependencies are installed: only the standard library,
numpy, scipy and SimpleITK at import time (Testing/static/test_import_boundary.py checks it).

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
  (``write_job``, ``run_job``, ``read_job_result``) that run it in a separate process
  (``python -m SegQualityReviewLib.review.assessment_worker FOLDER``).
- Jobs: ``JobRun(process, kind=, folder=, scratch=, context=)`` (poll / wait / cancel / check / discard;
  the scratch folder goes on cancel, failure and discard) around ``start_process(command)``;
  ``JobFailedError``, ``StaleJobError``; ``JobPanel`` (``review.job_panel``): a GUI's start/Cancel button,
  progress bar and status line for one job.
- MedSAM proposals (``review.proposals``): ``ProposalRecord`` (structure, proposal segment, prompt
  ``own_boxes`` | ``roi_box`` with its IJK box, model, both versions' voxel counts and digests, predicted
  quality, ``ProposalDecision`` pending | accept_proposal | keep_original); ``ReviewSession.add_proposal``
  / ``proposal`` / ``decide_proposal``; ``write_proposal_job`` / ``run_proposal_job`` /
  ``read_proposal_result`` run MedSAM and the assessment on the proposal in a separate process
  (``python -m SegQualityReviewLib.review.proposal_worker FOLDER``); ``proposal_segment_name``.
- ``compare_config(reference_folder=, predictions=, cases_csv=, model_cards_folder=)``: the Batch tab's
  fields as a compare config; ``summary_rows`` / ``worst_case_rows`` / ``case_files``: results.json as rows.
"""

from .assessment import (
    EstimatorUnavailableError,
    assess_structures,
    read_job_result,
    run_job,
    worst_slices,
    write_job,
)
from .batch_view import CompareInputError, case_files, compare_config, summary_rows, worst_case_rows
from .items import COLUMNS, Decision, Flag, ReviewItem, ReviewRecordError, build_items, flag_for, sort_items
from .job_panel import JobPanel
from .job_run import JobFailedError, JobRun, StaleJobError, start_process
from .proposals import (
    PROPOSABLE_DECISIONS,
    PROPOSAL_COLUMNS,
    ProposalDecision,
    ProposalError,
    ProposalRecord,
    ProposalResult,
    check_proposable,
    mask_digest,
    proposal_item,
    proposal_record,
    proposal_segment_name,
    read_proposal_result,
    run_proposal_job,
    write_proposal_job,
)
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
    "CompareInputError",
    "AuditEntry",
    "Decision",
    "EstimatorUnavailableError",
    "JobFailedError",
    "JobPanel",
    "JobRun",
    "Flag",
    "PROPOSABLE_DECISIONS",
    "PROPOSAL_COLUMNS",
    "ProposalDecision",
    "ProposalError",
    "ProposalRecord",
    "ProposalResult",
    "ReviewContext",
    "ReviewFileError",
    "ReviewItem",
    "ReviewRecordError",
    "ReviewSession",
    "StaleJobError",
    "assess_structures",
    "autosave_path_for",
    "build_items",
    "check_proposable",
    "case_files",
    "compare_config",
    "default_reviewer",
    "flag_for",
    "mask_digest",
    "proposal_item",
    "proposal_record",
    "proposal_segment_name",
    "read_proposal_result",
    "run_proposal_job",
    "read_job_result",
    "run_job",
    "sort_items",
    "start_process",
    "summary_rows",
    "worst_case_rows",
    "worst_slices",
    "write_job",
    "write_proposal_job",
]

"""The proposal's child process: ``python -m SegQualityReviewLib.review.proposal_worker JOB_FOLDER``.

A module of its own for the reason ``assessment_worker`` gives (runpy's warning for a module its package
already imported). It prints ``PROGRESS <fraction> <message>`` lines and, on a user-caused error (MedSAM
not installed, an empty structure, a box outside the image), one ``ERROR <message>`` line with exit code 2.
"""

from __future__ import annotations

import sys
from typing import Sequence

from ..process.job_worker import run_job_folder
from .proposals import run_proposal_job


def main(argv: Sequence[str] | None = None) -> int:
    return run_job_folder(
        run_proposal_job,
        argv,
        prog="python -m SegQualityReviewLib.review.proposal_worker",
        description="Run a SegQualityReview MedSAM proposal job folder (written by write_proposal_job).",
    )


if __name__ == "__main__":
    sys.exit(main())

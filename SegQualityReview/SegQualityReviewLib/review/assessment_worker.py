"""The assessment's child process: ``python -m SegQualityReviewLib.review.assessment_worker JOB_FOLDER``.

A module of its own, which the package ``__init__`` never imports: running a module that its package has
already imported (``-m ...review.assessment``) makes runpy print a RuntimeWarning, and that stray line
would become the "detail" of a failed job. It prints ``PROGRESS <fraction> <message>`` lines and, on a
user-caused error, one ``ERROR <message>`` line with exit code 2 (``process.progress_lines``).
"""

from __future__ import annotations

import sys
from typing import Sequence

from ..process.job_worker import run_job_folder
from .assessment import run_job


def main(argv: Sequence[str] | None = None) -> int:
    return run_job_folder(
        run_job,
        argv,
        prog="python -m SegQualityReviewLib.review.assessment_worker",
        description="Run a SegQualityReview assessment job folder (written by review.write_job).",
    )


if __name__ == "__main__":
    sys.exit(main())

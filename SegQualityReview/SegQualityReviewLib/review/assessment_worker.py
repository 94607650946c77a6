"""The assessment's child process: ``python -m SegQualityReviewLib.review.assessment_worker JOB_FOLDER``.

A module of its own, which the package ``__init__`` never imports: running a module that its package has
already imported (``-m ...review.assessment``) makes runpy print a RuntimeWarning, and that stray line
would become the "detail" of a failed job. It prints ``PROGRESS <fraction> <message>`` lines and, on a
user-caused error, one ``ERROR <message>`` line with exit code 2 (``process.progress_lines``).
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from ..errors import SegQualityError
from ..process.progress_lines import format_error, print_progress
from .assessment import run_job


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m SegQualityReviewLib.review.assessment_worker",
        description="Run a SegQualityReview assessment job folder (written by review.write_job).",
    )
    parser.add_argument("job_folder")
    arguments = parser.parse_args(argv)
    try:
        run_job(arguments.job_folder, progress=print_progress)
    except SegQualityError as error:
        print(format_error(str(error)), flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

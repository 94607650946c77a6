"""The proposal's child process: ``python -m SegQualityReviewLib.review.proposal_worker JOB_FOLDER``.

A module of its own for the reason ``assessment_worker`` gives (runpy's warning for a module its package
already imported). It prints ``PROGRESS <fraction> <message>`` lines and, on a user-caused error (MedSAM
not installed, an empty structure, a box outside the image), one ``ERROR <message>`` line with exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from ..errors import SegQualityError
from ..process.progress_lines import format_error, print_progress
from .proposals import run_proposal_job


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m SegQualityReviewLib.review.proposal_worker",
        description="Run a SegQualityReview MedSAM proposal job folder (written by write_proposal_job).",
    )
    parser.add_argument("job_folder")
    arguments = parser.parse_args(argv)
    try:
        run_proposal_job(arguments.job_folder, progress=print_progress)
    except SegQualityError as error:
        print(format_error(str(error)), flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

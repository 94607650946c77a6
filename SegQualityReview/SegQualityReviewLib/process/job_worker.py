"""The body of a job's child process: run one job folder, report in the progress-line protocol.

Each kind of job (assessment, MedSAM proposal) has a worker module of its own, since running a module its
package already imported makes runpy print a RuntimeWarning that would become a failed job's "detail"; this
is what they share. It prints ``PROGRESS <fraction> <message>`` lines and, on a user-caused error, one
``ERROR <message>`` line with exit code 2 (``process.progress_lines``).
"""

from __future__ import annotations

import argparse
from typing import Callable, Sequence

from ..errors import SegQualityError
from .progress_lines import format_error, print_progress


def run_job_folder(
    run: Callable[..., object], argv: Sequence[str] | None, *, prog: str, description: str
) -> int:
    """Parse ``JOB_FOLDER`` from ``argv``, call ``run(job_folder, progress=...)``; the exit code."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("job_folder")
    arguments = parser.parse_args(argv)
    try:
        run(arguments.job_folder, progress=print_progress)
    except SegQualityError as error:
        print(format_error(str(error)), flush=True)
        return 2
    return 0

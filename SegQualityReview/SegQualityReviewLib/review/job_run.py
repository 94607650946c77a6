"""A job running in a separate process, as the Slicer module and the console see it: latest progress,
finished or not, cancel, a blocking wait, one clear error when it failed, and the scratch folder it owns
removed however it ends."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from ..errors import SegQualityError

ProgressCallback = Callable[[float, str], None]


class JobFailedError(SegQualityError):
    """A job's process ended with an error, was cancelled or timed out."""


class StaleJobError(JobFailedError):
    """A job ended after the scene it was started in had been closed: its result belongs nowhere."""


def start_process(command: Sequence[str]):
    """Start ``command`` with the core's process runner (reader thread, tree kill on cancel).

    The folder holding this package goes first on the child's PYTHONPATH: inside Slicer the package is
    importable only because the module's folder is on Slicer's own path, which a child does not inherit.
    """
    from ..process.runner import ProcessRunner

    package_parent = str(Path(__file__).resolve().parents[2])
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(
        p for p in (package_parent, environment.get("PYTHONPATH")) if p
    )
    runner = ProcessRunner(command, env=environment)
    runner.start()
    return runner


class JobRun:
    """A started ``ProcessRunner``-like ``process`` and what is needed to finish it.

    ``kind`` names the job ("assessment", "segmentation", "comparison", ...) so one caller can finish any
    job; ``folder`` is where its result is read from; ``scratch`` (optional) is a temporary folder the job
    owns (inputs copied for the child, its outputs): it is removed on cancel, on failure and by
    ``discard()`` once the result has been read, so nothing leaks. ``context`` holds what the caller
    needs to turn the result into its own objects.
    """

    def __init__(
        self,
        process: Any,
        *,
        folder: str | Path,
        kind: str = "job",
        scratch: str | Path | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        self.process = process
        self.folder = Path(folder)
        self.kind = kind
        self.scratch = Path(scratch) if scratch is not None else None
        self.context = dict(context or {})
        self.last_progress: tuple[float, str] | None = None

    @property
    def finished(self) -> bool:
        return self.process.state.value != "running"

    @property
    def state(self) -> str:
        """``running``, ``completed``, ``failed``, ``cancelled`` or ``timed_out``."""
        return self.process.state.value

    def poll(self) -> tuple[float, str] | None:
        """The latest ``(fraction, message)`` reported since the last call, or None."""
        latest = None
        for event in self.process.poll():
            if event.kind == "progress" and event.fraction is not None:
                latest = self.last_progress = (float(event.fraction), event.message)
        return latest

    def wait(self, *, progress: ProgressCallback | None = None, timeout_s: float | None = None) -> None:
        """Block until the process ends, passing each progress report on."""

        def forward(event) -> None:
            if event.kind == "progress" and event.fraction is not None:
                self.last_progress = (float(event.fraction), event.message)
                if progress is not None:
                    progress(*self.last_progress)

        self.process.wait(timeout_s=timeout_s, on_event=forward)

    def cancel(self) -> None:
        """Stop the process and every child it started, and remove the scratch folder."""
        self.process.cancel()
        self.discard()

    def check(self, what: str) -> None:
        """Raise ``JobFailedError`` naming ``what`` and the worker's own error unless the job completed
        (the scratch folder is removed first: a failed job leaves nothing behind)."""
        outcome = self.process.outcome()
        if outcome.state.value == "completed":
            return
        self.discard()
        detail = (
            outcome.error_messages[-1]
            if outcome.error_messages
            else (outcome.last_lines[-1] if outcome.last_lines else "no output")
        )
        raise JobFailedError(f"{what}: {outcome.state.value} (exit code {outcome.return_code}): {detail}")

    def discard(self) -> None:
        """Remove the scratch folder (idempotent); the result folder is the caller's and stays."""
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)

"""Running heavy work out of process without freezing the caller (the Slicer module, batch, the CLI).

Public API:
- ``ProcessRunner(command)``: ``start()``, ``poll() -> [ProcessEvent]`` (from a GUI timer),
  ``wait(timeout_s=, on_event=)`` (blocking), ``cancel()`` (kills the whole process tree, psutil),
  ``state`` (``RunState``), ``outcome() -> RunOutcome``.
- ``SegmentationJob(SegmentationRequest(image, model, out, model_config, device, prompt))``: the
  segmenter in a worker process; ``run(timeout_s=, on_event=)`` blocks, or ``start``/``poll``/``cancel``/
  ``finish``. ``prompt`` (a ``segmenters.MedSAMPrompt``) is for ``medsam``; its record of the boxes
  used comes back as ``<out>.medsam.json``.
  Crashes, hangs, cancellation and wrong-geometry outputs raise ``SegmentationProcessError`` or
  ``GeometryMismatchError``; the input is checked to be unchanged.
- Worker line protocol: ``PROGRESS <fraction> <message>``, ``ERROR <message>`` (``progress_lines``).
"""

from .progress_lines import ProcessEvent, format_error, format_progress, parse_line
from .runner import ProcessRunner, RunOutcome, RunState
from .segment_job import SegmentationJob, SegmentationProcessError, SegmentationRequest

__all__ = [
    "ProcessEvent",
    "ProcessRunner",
    "RunOutcome",
    "RunState",
    "SegmentationJob",
    "SegmentationProcessError",
    "SegmentationRequest",
    "format_error",
    "format_progress",
    "parse_line",
]

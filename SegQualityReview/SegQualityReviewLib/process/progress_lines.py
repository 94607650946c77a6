"""The line protocol between a worker process and its runner: ``PROGRESS 0.42 message`` and ``ERROR message``.

Any other line is a plain log line. Lines are flushed at once so a GUI can show progress live.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TextIO

PROGRESS = "PROGRESS"
ERROR = "ERROR"


@dataclass(frozen=True)
class ProcessEvent:
    """One line from the worker: ``kind`` is ``progress``, ``error`` or ``log``; ``fraction`` is set for progress."""

    kind: str
    message: str
    fraction: float | None = None


def format_progress(fraction: float, message: str) -> str:
    return f"{PROGRESS} {fraction:.3f} {_one_line(message)}"


def format_error(message: str) -> str:
    return f"{ERROR} {_one_line(message)}"


def parse_line(line: str) -> ProcessEvent:
    """The event a worker output line stands for; malformed progress lines are kept as log lines."""
    text = line.rstrip("\r\n")
    head, _, rest = text.partition(" ")
    if head == PROGRESS:
        value, _, message = rest.partition(" ")
        try:
            return ProcessEvent(kind="progress", message=message, fraction=float(value))
        except ValueError:
            return ProcessEvent(kind="log", message=text)
    if head == ERROR:
        return ProcessEvent(kind="error", message=rest)
    return ProcessEvent(kind="log", message=text)


def print_progress(fraction: float, message: str, *, stream: TextIO | None = None) -> None:
    """Write one progress line and flush: the progress callback a worker passes to its segmenter."""
    print(format_progress(fraction, message), file=stream or sys.stdout, flush=True)


def _one_line(message: str) -> str:
    return " ".join(str(message).split())

"""The Segmenter protocol: what every segmenter declares, and how a run reports progress and is cancelled."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable, Protocol, runtime_checkable

from ..errors import SegQualityError
from ..io import StructureSet, Volume

ProgressCallback = Callable[[float, str], None]


class SegmenterError(SegQualityError):
    """A segmenter cannot run: missing package or weights, bad configuration, or a failed run."""


class SegmenterUnavailableError(SegmenterError):
    """A segmenter's optional package or weights are not installed; the message says how to install them."""


class SegmentationCancelledError(SegmenterError):
    """The run was cancelled by the user before it finished."""


def _ignore_progress(fraction: float, message: str) -> None:
    """The default progress sink: progress is optional for callers."""


@dataclass(frozen=True)
class RunControl:
    """Progress reporting and cancellation for one run, passed to ``Segmenter.run``.

    Segmenters call ``report`` between steps; it raises ``SegmentationCancelledError`` once
    ``cancel_event`` is set, so a cancelled run stops at the next step boundary.
    """

    on_progress: ProgressCallback = _ignore_progress
    cancel_event: threading.Event = field(default_factory=threading.Event)

    def report(self, fraction: float, message: str) -> None:
        """Report progress (``fraction`` in 0..1); raise when cancellation was requested."""
        self.check_cancelled()
        self.on_progress(min(max(float(fraction), 0.0), 1.0), message)

    def check_cancelled(self) -> None:
        if self.cancel_event.is_set():
            raise SegmentationCancelledError("segmentation cancelled")

    def scaled(self, start: float, stop: float) -> RunControl:
        """A control whose 0..1 progress maps onto ``start``..``stop`` of this one (for nested steps)."""

        def forward(fraction: float, message: str) -> None:
            self.on_progress(start + (stop - start) * fraction, message)

        return RunControl(on_progress=forward, cancel_event=self.cancel_event)


@runtime_checkable
class Segmenter(Protocol):
    """Anything that turns an image into named structures.

    ``structures`` are the names it produces (matched by ``io.normalize_structure_name``);
    ``training_datasets`` name the data it was trained or tuned on, for the contamination policy
    (contaminated (model, dataset) cells are excluded from rankings).
    """

    name: str
    version: str
    structures: tuple[str, ...]
    training_datasets: tuple[str, ...]

    def run(self, volume: Volume, *, control: RunControl | None = None) -> StructureSet:
        """Segment ``volume``; the result lies on the volume's grid and declares every name in ``structures``."""
        ...

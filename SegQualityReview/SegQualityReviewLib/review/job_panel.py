"""The GUI side of a job: a start button that turns into Cancel while its job runs, a progress bar and a
status line, in one place for every job the Slicer module runs (assess, segment, compare, ...).

Plain Python on purpose: the widgets are passed in and only their ``text`` and ``value``
properties are used, so the Slicer Widget stays thin and this is tested without Qt.
"""

from __future__ import annotations

from typing import Any


class JobPanel:
    """One job slot of the GUI.

    ``started(run)`` turns the button into ``cancel_text`` and resets the progress; ``poll()`` (from a GUI
    timer) forwards progress and, once the run has ended, resets the panel *before* returning the run to
    be finished, so a failing finish can never leave the button saying Cancel; ``cancelled()`` stops the
    run and says so.
    """

    # The widget classes the .ui must give each argument (checked by the UI contract test).
    WIDGET_CLASSES = {"button": "QPushButton", "progress_bar": "QProgressBar", "status_label": "QLabel"}

    def __init__(
        self,
        *,
        button: Any,
        progress_bar: Any,
        status_label: Any,
        start_text: str,
        cancel_text: str = "Cancel",
        cancelled_text: str = "Cancelled",
    ) -> None:
        self._button = button
        self._progress_bar = progress_bar
        self._status_label = status_label
        self._start_text = start_text
        self._cancel_text = cancel_text
        self._cancelled_text = cancelled_text
        self.run: Any = None

    @property
    def running(self) -> bool:
        return self.run is not None

    def started(self, run: Any) -> None:
        """Show ``run`` as running: the button becomes Cancel, the progress starts at 0."""
        self.run = run
        self._button.text = self._cancel_text
        self._progress_bar.value = 0
        self._status_label.text = ""

    def poll(self) -> Any:
        """Forward the run's progress; return the run once it has ended (the panel is idle again then)."""
        if self.run is None:
            return None
        progress = self.run.poll()
        if progress is not None:
            fraction, message = progress
            self._progress_bar.value = int(round(100 * min(max(fraction, 0.0), 1.0)))
            self._status_label.text = message
        if not self.run.finished:
            return None
        ended, self.run = self.run, None
        self._button.text = self._start_text
        return ended

    def cancelled(self) -> None:
        """Cancel the running job (its process tree and scratch folder go) and show that it was cancelled."""
        if self.run is not None:
            self.run.cancel()
        self.reset(status=self._cancelled_text)

    def reset(self, *, status: str = "") -> None:
        """Forget the run (already stopped elsewhere, e.g. by a scene close) and show the idle button."""
        self.run = None
        self._button.text = self._start_text
        self._progress_bar.value = 0
        self._status_label.text = status

"""Run a command out of process without blocking the caller: a reader thread, a queue, ``poll`` and tree kill.

Follows SlicerMONAIAuto3DSeg: a thread reads the child's output into a queue; a GUI drains it with
``poll()`` from a timer (``qt.QTimer`` in Slicer), a console or test blocks in ``wait()``. ``cancel()``
kills the whole process tree with psutil, since killing the launcher alone leaves its children running.

Inside Slicer this module is imported before the module's dependencies are installed, so psutil (which
Slicer does not ship) is imported only when a tree has to be killed. Output is read as bytes and decoded
line by line with replacement characters: one undecodable byte (a Windows code page, a binary dump) must
not kill the reader before the end of the stream, which would leave the run "running" forever. On Windows
the child gets no console window.
"""

from __future__ import annotations

import enum
import os
import queue
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from .progress_lines import ProcessEvent, parse_line

# subprocess.CREATE_NO_WINDOW exists only on Windows; its value is fixed by the Win32 API.
CREATE_NO_WINDOW = getattr(subprocess, "CREATE_NO_WINDOW", 0x08000000)


class RunState(enum.Enum):
    """Where a run stands; a GUI turns Apply into Cancel while ``RUNNING``."""

    IDLE = "idle"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"


@dataclass(frozen=True)
class RunOutcome:
    """How a finished run ended: its state, exit code (negative: killed by that signal) and last output lines."""

    state: RunState
    return_code: int | None
    last_lines: tuple[str, ...]
    error_messages: tuple[str, ...]


class ProcessRunner:
    """One child process whose output lines become ``ProcessEvent`` records.

    ``start()`` launches it; ``poll()`` returns the events since the last call (and notices the end);
    ``wait(timeout_s=...)`` blocks until the end, killing the tree on timeout; ``cancel()`` kills the tree.
    """

    def __init__(self, command: Sequence[str], *, env: Mapping[str, str] | None = None, keep_lines: int = 40):
        self.command = tuple(str(part) for part in command)
        self._env = dict(os.environ if env is None else env)
        self._env.setdefault("PYTHONUNBUFFERED", "1")
        self._keep_lines = keep_lines
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._process: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None
        self._stream_closed = False
        self._last_lines: list[str] = []
        self._errors: list[str] = []
        self.state = RunState.IDLE

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self) -> None:
        if self.state is not RunState.IDLE:
            raise RuntimeError("a ProcessRunner runs its command once")
        self._process = subprocess.Popen(
            self.command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self._env,
            **popen_platform_options(os.name),
        )
        self.state = RunState.RUNNING
        self._reader = threading.Thread(
            target=self._read_output, name="segquality-process-reader", daemon=True
        )
        self._reader.start()

    def poll(self) -> list[ProcessEvent]:
        """Events from the lines read since the last call; updates ``state`` once the process has ended."""
        events = []
        while True:
            try:
                line = self._lines.get_nowait()
            except queue.Empty:
                break
            if line is None:
                self._stream_closed = True
                continue
            event = parse_line(line)
            self._remember(line, event)
            events.append(event)
        if self.state is RunState.RUNNING and self._stream_closed and self._process.poll() is not None:
            self.state = RunState.COMPLETED if self._process.returncode == 0 else RunState.FAILED
        return events

    def wait(
        self,
        *,
        timeout_s: float | None = None,
        on_event: Callable[[ProcessEvent], None] | None = None,
        poll_interval_s: float = 0.05,
    ) -> RunOutcome:
        """Block until the process ends, passing events to ``on_event``; past ``timeout_s`` kill the tree."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while self.state is RunState.RUNNING:
            for event in self.poll():
                if on_event is not None:
                    on_event(event)
            if self.state is not RunState.RUNNING:
                break
            if deadline is not None and time.monotonic() > deadline:
                self._kill_tree()
                self.state = RunState.TIMED_OUT
                break
            time.sleep(poll_interval_s)
        return self.outcome()

    def cancel(self) -> None:
        """Kill the process and every descendant; state becomes ``CANCELLED``."""
        if self.state is RunState.RUNNING:
            self._kill_tree()
            self.state = RunState.CANCELLED

    def outcome(self) -> RunOutcome:
        return_code = None if self._process is None else self._process.poll()
        return RunOutcome(
            state=self.state,
            return_code=return_code,
            last_lines=tuple(self._last_lines),
            error_messages=tuple(self._errors),
        )

    def _read_output(self) -> None:
        try:
            for raw in self._process.stdout:
                self._lines.put(raw.decode("utf-8", errors="replace"))
        finally:
            self._process.stdout.close()
            self._lines.put(None)

    def _remember(self, line: str, event: ProcessEvent) -> None:
        if event.kind == "error":
            self._errors.append(event.message)
        elif event.kind == "log":
            self._last_lines = (self._last_lines + [line.rstrip()])[-self._keep_lines :]

    def _kill_tree(self) -> None:
        import psutil

        try:
            parent = psutil.Process(self._process.pid)
            family = parent.children(recursive=True) + [parent]
        except psutil.NoSuchProcess:
            family = []
        for process in family:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                continue
        psutil.wait_procs(family, timeout=5)
        self._process.wait(timeout=5)
        self.poll()


def popen_platform_options(os_name: str) -> dict[str, Any]:
    """Extra ``subprocess.Popen`` arguments for the platform named by ``os.name``.

    On Windows (``"nt"``) a child of a GUI application opens a console window unless it is created with
    ``CREATE_NO_WINDOW``; a job would flash one open for every run.
    """
    return {"creationflags": CREATE_NO_WINDOW} if os_name == "nt" else {}

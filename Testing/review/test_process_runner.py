"""The process runner as Slicer needs it: importable before psutil is installed, robust to output that is
not UTF-8, and without a console window on Windows."""

from __future__ import annotations

import subprocess
import sys
import time

from SegQualityReviewLib.process.runner import (
    CREATE_NO_WINDOW,
    ProcessRunner,
    RunState,
    popen_platform_options,
)


def _run_to_end(runner: ProcessRunner, *, timeout_s: float = 30.0) -> list:
    events = []
    deadline = time.monotonic() + timeout_s
    while runner.state is RunState.RUNNING and time.monotonic() < deadline:
        events += runner.poll()
        time.sleep(0.02)
    return events + runner.poll()


def test_an_undecodable_byte_does_not_stop_the_reader_before_the_end():
    code = (
        "import sys; out = sys.stdout.buffer; "
        "out.write(b'PROGRESS 0.5 caf\\xe9 in latin-1\\n'); out.write(b'\\xff\\xfe raw bytes\\n'); "
        "out.write(b'PROGRESS 1 done\\n'); out.flush()"
    )
    runner = ProcessRunner([sys.executable, "-c", code])
    runner.start()
    events = _run_to_end(runner)
    assert runner.state is RunState.COMPLETED
    assert [(e.kind, e.fraction) for e in events] == [("progress", 0.5), ("log", None), ("progress", 1.0)]
    assert events[0].message == "caf\ufffd in latin-1"


def test_windows_children_get_no_console_window_and_other_systems_no_flags():
    assert popen_platform_options("nt") == {"creationflags": CREATE_NO_WINDOW}
    assert CREATE_NO_WINDOW == getattr(subprocess, "CREATE_NO_WINDOW", 0x08000000) == 0x08000000
    assert popen_platform_options("posix") == {}


def test_the_runner_and_the_review_package_import_without_psutil():
    # Slicer does not ship psutil; the review package is imported by every GUI refresh before
    # ensureDependencies has run. psutil is hidden here as if it were not installed.
    code = (
        "import sys, importlib.abc\n"
        "class Hide(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'psutil': raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, Hide())\n"
        "import SegQualityReviewLib.process.runner, SegQualityReviewLib.review\n"
        "print('psutil' in sys.modules)\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "False"

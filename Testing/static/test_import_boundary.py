"""Before its dependencies are installed the module must work with what Slicer ships: in a process where
every other package is hidden (``slicer_rules.boundary``), the GUI is walked through every path it
reaches before ``ensureDependencies`` (``slicer_rules.gui_walk``). The real MRML libraries come from the
slicer-core wheel; Qt, CTK and the GUI side of Slicer are the strict stand-ins of ``slicer_rules``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTING = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    pytest.importorskip("slicer", reason="the slicer-core wheel (real MRML) is not installed here")
    if sys.version_info < (3, 10):
        pytest.skip("slicer-core has no wheel for this Python; the import boundary runs on 3.10 or later")
    report = tmp_path_factory.mktemp("walk") / "report.json"
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTING), os.environ.get("PYTHONPATH", "")]),
    }
    completed = subprocess.run(
        [sys.executable, "-m", "slicer_rules.gui_walk", str(report)],
        cwd=TESTING,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    found = json.loads(report.read_text()) if report.is_file() else {}
    assert completed.returncode == 0, f"steps done: {found.get('steps')}\n{completed.stderr[-4000:]}"
    return found


def test_every_gui_path_before_the_install_imports_only_what_slicer_ships(walk):
    assert walk["refused"] == []
    assert walk["heavy_modules_loaded"] == []
    assert walk["steps"][-1] == "scene closed, widget cleaned up"


def test_each_action_that_needs_the_dependencies_asks_for_them_and_stops_when_declined(walk):
    assert len(walk["questions"]) == 4
    assert all("psutil" in question and "torch" in question for question in walk["questions"])
    assert [error.split("\n")[0] for error in walk["errors"]] == [
        "Could not start the assessment.",
        "Could not start the segmenter.",
        "Could not start the MedSAM proposal.",
        "Could not start the comparison.",
    ]

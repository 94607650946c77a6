"""Core modules that must import on every Slicer's Python stack (run by the Slicer-Python tiers with
Slicer 5.6's Python 3.9, numpy 1.26.1 and scipy 1.11.3, and Slicer 5.10's Python 3.12, numpy 2.0.2 and
scipy 1.13.1, besides the main environment)."""

from __future__ import annotations

import subprocess
import sys

from slicer_rules.module_source import LIB_FOLDER

CALIBRATION = LIB_FOLDER / "quality" / "calibration.py"


def test_the_estimators_calibration_imports_on_this_scipy():
    # quality/__init__ loads the torch estimator; the calibration module alone must not need torch.
    code = "\n".join(
        [
            "import importlib, sys, types",
            "package = types.ModuleType('SegQualityReviewLib.quality')",
            f"package.__path__ = [{str(CALIBRATION.parent)!r}]",
            "sys.modules['SegQualityReviewLib.quality'] = package",
            "importlib.import_module('SegQualityReviewLib.quality.calibration')",
            "print('torch' in sys.modules)",
        ]
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr.strip().splitlines()[-1]
    assert completed.stdout.strip() == "False"

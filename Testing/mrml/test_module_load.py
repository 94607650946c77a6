"""Loading the module file (as Slicer does at start-up) imports none of the heavy packages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HEAVY = [
    "torch",
    "timm",
    "SimpleITK",
    "scipy",
    "pandas",
    "matplotlib",
    "SegQualityReviewLib.quality",
    "SegQualityReviewLib.metrics",
    "SegQualityReviewLib.batch",
]


def test_loading_the_module_file_imports_no_heavy_package(module):
    code = "\n".join(
        [
            "import importlib.util, sys",
            f"sys.path.insert(0, {str(Path(__file__).parents[1])!r})",
            "from slicer_rules.fake_slicer import install_module_stand_ins",
            "from slicer_rules.module_source import MODULE_FILE",
            "install_module_stand_ins()",
            "spec = importlib.util.spec_from_file_location('SegQualityReview', MODULE_FILE)",
            "spec.loader.exec_module(importlib.util.module_from_spec(spec))",
            f"print(sorted(name for name in {HEAVY!r} if name in sys.modules))",
        ]
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip().splitlines()[-1] == "[]"
    assert hasattr(module, "SegQualityReviewLogic")

"""The torch-free core tests on Slicer's own Python stacks: Slicer 5.6/5.8 (Python 3.9, numpy 1.26.1,
scipy 1.11.3, SimpleITK 2.2.1) and Slicer 5.10 (Python 3.12, numpy 2.0.2, scipy 1.13.1). Slicer 5.12
(Python 3.12, numpy 2.4.6, scipy 1.17.1) is close to the main environment, which runs everything.

Each tier runs in a cached virtual environment that ``scripts/slicer_python_env.sh`` builds on first use
from pyenv's interpreter and PyPI; where that cannot be done (no such Python, no network) the tier skips
with one line. Set SEGQUALITY_SKIP_SLICER_TIERS=1 to skip them on purpose.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
# The torch-free subset: io, stats, batch analysis and config, review, the static Slicer rules (the UI
# contract, the import boundary where slicer-core has a wheel, the calibration module's import).
SUBSET = (
    "Testing/io",
    "Testing/stats",
    "Testing/batch/test_batch_config.py",
    "Testing/batch/test_batch_value_ranges.py",
    "Testing/review",
    "Testing/static",
)
TIER_TIMEOUT_S = 900


def _environment(tier: str) -> Path:
    if os.environ.get("SEGQUALITY_SKIP_SLICER_TIERS") == "1":
        pytest.skip("Slicer-Python tiers skipped (SEGQUALITY_SKIP_SLICER_TIERS=1)")
    built = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "slicer_python_env.sh"), tier],
        capture_output=True,
        text=True,
        timeout=TIER_TIMEOUT_S,
    )
    if built.returncode == 3:
        pytest.skip(built.stderr.strip().splitlines()[-1])
    assert built.returncode == 0, built.stderr[-4000:]
    return Path(built.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("tier", ["5.6", "5.10"])
def test_core_tests_pass_on_the_python_stack_of_slicer(tier):
    python = _environment(tier)
    paths = [path for path in SUBSET if (REPO_ROOT / path).exists()]
    environment = {
        **os.environ,
        "SEGQUALITY_SLICER_TIER": tier,
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]),
        "PYTHONWARNINGS": "ignore::DeprecationWarning",
    }
    completed = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tier_plugin", *paths],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=TIER_TIMEOUT_S,
    )
    summary = completed.stdout.strip().splitlines()[-1] if completed.stdout.strip() else ""
    print(f"Slicer {tier} tier ({python}): {summary}")
    assert completed.returncode == 0, completed.stdout[-6000:] + completed.stderr[-2000:]


def test_the_tier_environments_pin_what_slicer_ships():
    for tier, pins in (
        ("5.6", ("numpy==1.26.1", "scipy==1.11.3", "SimpleITK==2.2.1")),
        ("5.10", ("numpy==2.0.2", "scipy==1.13.1")),
    ):
        lines = (REPO_ROOT / "requirements" / f"slicer-{tier}.txt").read_text(encoding="utf-8").split()
        assert set(pins) <= set(lines), tier

"""Shared pytest fixtures: the location of ../shared/data, skipping clearly when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SEGQUALITY_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real-data folder (../shared/data, or $SEGQUALITY_SHARED_DATA); skips the test when absent."""
    if not (SHARED_DATA / "manifest.json").is_file():
        pytest.skip(f"real data not found at {SHARED_DATA} (set SEGQUALITY_SHARED_DATA to its folder)")
    return SHARED_DATA

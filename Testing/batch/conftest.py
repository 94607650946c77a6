"""Batch fixtures: one small synthetic phantom cohort, compared once per session (two worker processes)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from SegQualityReviewLib.batch import (
    PhantomCohort,
    RunOutputs,
    load_config,
    run_compare,
    write_phantom_cohort,
)

# Small enough for the test budget, large enough for intervals (6 patients, 8 scans, 5 models).
TEST_PATIENTS = 6
TEST_RESAMPLES = 200


@dataclass(frozen=True)
class PhantomRun:
    cohort: PhantomCohort
    outputs: RunOutputs
    progress: tuple[tuple[float, str], ...]


@pytest.fixture(scope="session")
def phantom_run(tmp_path_factory) -> PhantomRun:
    """The phantom cohort compared end to end with two worker processes; outputs in a session folder and
    the progress reports it made."""
    root = tmp_path_factory.mktemp("phantom")
    cohort = write_phantom_cohort(root / "inputs", n_patients=TEST_PATIENTS)
    config = load_config(cohort.config_path, workers=2)
    config = replace(config, analysis=replace(config.analysis, n_resamples=TEST_RESAMPLES))
    reports: list[tuple[float, str]] = []
    outputs = run_compare(
        config,
        root / "out",
        progress=False,
        on_progress=lambda fraction, message: reports.append((fraction, message)),
    )
    return PhantomRun(cohort, outputs, tuple(reports))


@pytest.fixture()
def test_config():
    """A function giving a cohort's config with the tests' bootstrap size, scored in-process by default."""

    def configure(cohort: PhantomCohort, *, workers: int = 1):
        config = load_config(cohort.config_path, workers=workers)
        return replace(config, analysis=replace(config.analysis, n_resamples=TEST_RESAMPLES))

    return configure


@pytest.fixture()
def fresh_cohort(tmp_path: Path) -> PhantomCohort:
    """A separate small cohort a test may modify."""
    return write_phantom_cohort(tmp_path / "inputs", n_patients=TEST_PATIENTS)

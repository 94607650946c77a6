"""pytest plugin of the Slicer-Python tiers (``-p tier_plugin``): marks the failures a tier is known to show
in code other engineers own as strict xfails, each with its owner and reason.

Strict: the day the fix lands the test passes, the xfail turns into a failure, and the entry here must go.
The tier's name comes from ``SEGQUALITY_SLICER_TIER`` ("5.6" or "5.10").
"""

from __future__ import annotations

import os

import pytest

KNOWN_FAILURES = {
    "5.6": {
        "Testing/stats/test_intervals.py::test_bca_matches_scipy_bootstrap_within_monte_carlo_error": (
            "the test's peer call passes scipy.stats.bootstrap(rng=...), a keyword SciPy 1.15 added; on Slicer "
            "5.6's SciPy 1.11.3 it is random_state= (statistics tests, issue 12)"
        ),
        "Testing/stats/test_power.py::test_large_effects_need_few_patients_instead_of_failing": (
            "statsmodels' solve_power does not converge with SciPy 1.11.3 and required_n only counts up from "
            "its answer (the power-analysis fix of issue 10, owned by the statistics engineer)"
        ),
    },
    "5.10": {
        "Testing/stats/test_intervals.py::test_bca_matches_scipy_bootstrap_within_monte_carlo_error": (
            "the test's peer call passes scipy.stats.bootstrap(rng=...), a keyword SciPy 1.15 added; Slicer "
            "5.10's SciPy 1.13.1 has random_state= (statistics tests, issue 12)"
        ),
        "Testing/stats/test_power.py::test_large_effects_need_few_patients_instead_of_failing": (
            "statsmodels' solve_power does not converge with SciPy 1.13.1 either, and required_n only counts "
            "up (the power-analysis fix of issue 10, owned by the statistics engineer)"
        ),
    },
}


def pytest_collection_modifyitems(config, items):
    known = KNOWN_FAILURES.get(os.environ.get("SEGQUALITY_SLICER_TIER", ""), {})
    for item in items:
        reason = known.get(item.nodeid)
        if reason is not None:
            item.add_marker(pytest.mark.xfail(reason=reason, strict=True))

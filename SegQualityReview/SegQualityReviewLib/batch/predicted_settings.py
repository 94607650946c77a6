"""What ``compare --predicted-quality`` writes and how it runs the estimator (light: the CLI imports it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PREDICTED_FILE = "predicted.csv"
RESULTS_FILE = "results.json"
REPORT_FILE = "report.html"
# The estimator's modes (quality.estimator.MODES, which a test keeps equal to this).
ESTIMATOR_MODES = ("default", "thorough", "classical")


@dataclass(frozen=True)
class PredictedQualitySettings:
    """How the models are ranked without references: the estimator's mode and flag threshold."""

    mode: str = "default"
    threshold: float = 0.7

    def as_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "threshold": self.threshold}

"""Patient-level resampling shared by every model, structure and metric: one index matrix per seed."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .validation import StatsInputError, check_resampling

DEFAULT_RESAMPLES = 10_000
DEFAULT_SEED = 0


@dataclass(frozen=True, eq=False)
class PatientResamples:
    """Bootstrap resamples of patients: row b of ``indices`` lists the patients drawn (with replacement).

    Pass the same object to every statistic of an analysis so all models (and, if wanted, all structures and
    metrics) see the same resampled patients: this is what makes the bootstrap paired.
    """

    indices: np.ndarray
    seed: int

    @property
    def n_resamples(self) -> int:
        """Number of bootstrap resamples B."""
        return int(self.indices.shape[0])

    @property
    def n_patients(self) -> int:
        """Number of patients drawn per resample (the sample size N)."""
        return int(self.indices.shape[1])

    @cached_property
    def counts(self) -> np.ndarray:
        """(B, N) float64: how often each patient is drawn in each resample, for means as one matrix product."""
        n_resamples, n_patients = self.indices.shape
        offsets = (np.arange(n_resamples, dtype=np.int64) * n_patients)[:, None]
        flat = np.bincount((self.indices + offsets).ravel(), minlength=n_resamples * n_patients)
        return flat.reshape(n_resamples, n_patients).astype(np.float64)

    def check_patients(self, n_patients: int) -> None:
        """Raise StatsInputError unless these resamples were drawn for ``n_patients`` patients."""
        if n_patients != self.n_patients:
            raise StatsInputError(
                f"resamples were drawn for {self.n_patients} patients but the values hold {n_patients}"
            )


def resample_patients(
    n_patients: int, *, n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED
) -> PatientResamples:
    """Draw ``n_resamples`` bootstrap samples of ``n_patients`` patient indices with numpy's PCG64 at ``seed``."""
    check_resampling(n_resamples, seed)
    if n_patients < 2:
        raise StatsInputError(f"resampling needs at least 2 patients, got {n_patients}")
    generator = np.random.default_rng(seed)
    indices = generator.integers(0, n_patients, size=(n_resamples, n_patients), dtype=np.int32)
    return PatientResamples(indices=indices, seed=int(seed))


def sign_flips(n_patients: int, *, n_resamples: int, seed: int) -> tuple[np.ndarray, bool]:
    """Sign vectors (±1 per patient) for a paired permutation test, and whether they are exhaustive.

    When 2^N is at most ``n_resamples`` every sign vector is listed once (an exact test); otherwise
    ``n_resamples`` random vectors are drawn from a stream independent of the patient resamples.
    """
    check_resampling(n_resamples, seed)
    if n_patients <= 30 and 2**n_patients <= n_resamples:
        codes = np.arange(2**n_patients, dtype=np.int64)[:, None]
        bits = (codes >> np.arange(n_patients, dtype=np.int64)) & 1
        return 1.0 - 2.0 * bits, True
    generator = np.random.default_rng([seed, 1])
    signs = generator.integers(0, 2, size=(n_resamples, n_patients), dtype=np.int8)
    return 1.0 - 2.0 * signs, False

"""Patient-level resampling shared by every model, structure and metric: one index matrix per seed."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

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
        counts = flat.reshape(n_resamples, n_patients).astype(np.float64)
        counts.setflags(write=False)
        return counts

    def check_patients(self, n_patients: int) -> None:
        """Raise StatsInputError unless these resamples were drawn for ``n_patients`` patients."""
        if n_patients != self.n_patients:
            raise StatsInputError(
                f"resamples were drawn for {self.n_patients} patients but the values hold {n_patients}"
            )


def resample_patients(
    n_patients: int, *, n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED
) -> PatientResamples:
    """Draw ``n_resamples`` bootstrap samples of ``n_patients`` patient indices with numpy's PCG64 at ``seed``.

    The draw depends only on its three arguments, so the last few are kept and shared (every family and
    subgroup of a study with the same patient count reuses one matrix and its draw counts).
    """
    check_resampling(n_resamples, seed)
    if n_patients < 2:
        raise StatsInputError(f"resampling needs at least 2 patients, got {n_patients}")
    return _drawn(int(n_patients), int(n_resamples), int(seed))


@lru_cache(maxsize=4)
def _drawn(n_patients: int, n_resamples: int, seed: int) -> PatientResamples:
    generator = np.random.default_rng(seed)
    indices = generator.integers(0, n_patients, size=(n_resamples, n_patients), dtype=np.int32)
    indices.setflags(write=False)
    return PatientResamples(indices=indices, seed=seed)

"""Checking statistics inputs and grouping rows by patient, so every statistic resamples whole patients."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from ..errors import SegQualityError


class StatsInputError(SegQualityError):
    """Values handed to a statistic are unusable: wrong shape, NaN or infinity, too few patients, bad option."""


@dataclass(frozen=True, eq=False)
class PatientGroups:
    """Rows of a ``(n_rows, n_columns)`` value table grouped by patient, with per-column availability.

    ``sums`` (n_patients, n_columns) and ``sizes`` (n_patients, n_columns) are what every mean statistic
    needs: the mean of the rows of a resample is ``counts @ sums / counts @ sizes`` per column. A missing
    value (NaN, allowed only with ``allow_missing``) adds nothing to either, so each column averages its own
    rows. ``row_patient`` maps each row to its patient index; ``patients`` are the ids in index order.
    """

    values: np.ndarray
    row_patient: np.ndarray
    patients: tuple
    sums: np.ndarray
    sizes: np.ndarray

    @property
    def n_patients(self) -> int:
        """Number of patients (the resampling units) over all columns."""
        return len(self.patients)

    @property
    def column_patients(self) -> np.ndarray:
        """(n_columns,) patients with at least one value in each column."""
        return (self.sizes > 0).sum(axis=0)

    @property
    def complete(self) -> bool:
        """True when every column has a value in every row (no missing cells)."""
        return bool(np.isfinite(self.values).all())

    @property
    def clustered(self) -> bool:
        """True when at least one patient holds several rows."""
        return bool(self.sizes.max() > 1)

    @property
    def patient_means(self) -> np.ndarray:
        """Mean of each patient's rows, (n_patients, n_columns), NaN where a patient has no value in a column."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.sizes > 0, self.sums / np.where(self.sizes > 0, self.sizes, 1.0), np.nan)

    @property
    def mean(self) -> np.ndarray:
        """Mean over each column's rows (each row weighs once)."""
        return self.sums.sum(axis=0) / self.sizes.sum(axis=0)

    def columns(self, indices: Sequence[int]) -> PatientGroups:
        """The same grouping restricted to some columns."""
        indices = list(indices)
        return PatientGroups(
            self.values[:, indices],
            self.row_patient,
            self.patients,
            self.sums[:, indices],
            self.sizes[:, indices],
        )

    def with_values(self, values: np.ndarray) -> PatientGroups:
        """The same patient grouping over another table with the same rows (e.g. paired differences)."""
        present = np.isfinite(values)
        sums = np.zeros((self.n_patients, values.shape[1]))
        sizes = np.zeros((self.n_patients, values.shape[1]))
        np.add.at(sums, self.row_patient, np.where(present, values, 0.0))
        np.add.at(sizes, self.row_patient, present.astype(np.float64))
        return PatientGroups(values, self.row_patient, self.patients, sums, sizes)


def check_level(level: float) -> float:
    """The confidence level as a float in (0, 1), or StatsInputError."""
    if not 0.0 < float(level) < 1.0:
        raise StatsInputError(f"confidence level must lie strictly between 0 and 1, got {level}")
    return float(level)


def check_resampling(n_resamples: int, seed: int) -> None:
    """Resample count and seed must be a positive and a non-negative integer (the seed is recorded)."""
    if int(n_resamples) != n_resamples or n_resamples < 1:
        raise StatsInputError(f"n_resamples must be a positive integer, got {n_resamples}")
    if int(seed) != seed or seed < 0:
        raise StatsInputError(f"seed must be a non-negative integer, got {seed}")


def check_model_names(model_names: Sequence[str], n_models: int) -> tuple[str, ...]:
    """Model names as a tuple: one per column, unique."""
    names = tuple(str(name) for name in model_names)
    if len(names) != n_models:
        raise StatsInputError(f"{len(names)} model names given for {n_models} value columns")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise StatsInputError(f"model names must be unique, repeated: {', '.join(duplicates)}")
    if n_models < 2:
        raise StatsInputError(f"comparing models needs at least 2 models, got {n_models}")
    return names


def as_value_table(
    values: np.ndarray, *, column_names: Optional[Sequence[str]] = None, allow_missing: bool = False
) -> np.ndarray:
    """Values as a float64 ``(n_rows, n_columns)`` array; a 1-D input becomes one column.

    Infinity is always refused; NaN (a missing cell) only unless ``allow_missing``, and even then every
    column needs values from at least 2 patients (checked by ``group_by_patient``).
    """
    table = np.asarray(values, dtype=np.float64)
    if table.ndim == 1:
        table = table[:, None]
    if table.ndim != 2:
        raise StatsInputError(f"values must be 1-D or (n_rows, n_models), got shape {table.shape}")
    bad = np.isinf(table) if allow_missing else ~np.isfinite(table)
    bad_rows, bad_columns = np.nonzero(bad)
    if bad_rows.size:
        column = bad_columns[0]
        label = f"model {column_names[column]!r}" if column_names is not None else f"column {column}"
        kind = "infinite" if allow_missing else "NaN or infinite"
        raise StatsInputError(
            f"values for {label} hold {bad_rows.size} {kind} entries (first at row {bad_rows[0]}); "
            "decide how failed cells count before computing statistics"
        )
    return table


def group_by_patient(
    values: np.ndarray,
    patient_ids: Optional[Sequence] = None,
    *,
    column_names: Optional[Sequence[str]] = None,
    allow_missing: bool = False,
) -> PatientGroups:
    """Group a value table's rows by patient; without ``patient_ids`` every row is its own patient.

    With ``allow_missing`` a NaN cell is a missing value: that column simply has no row there.
    """
    table = as_value_table(values, column_names=column_names, allow_missing=allow_missing)
    n_rows = table.shape[0]
    if patient_ids is None:
        row_patient = np.arange(n_rows)
        patients: tuple = tuple(range(n_rows))
    else:
        ids = np.asarray(patient_ids)
        if ids.shape != (n_rows,):
            raise StatsInputError(f"{ids.size} patient ids given for {n_rows} value rows")
        unique_ids, row_patient = np.unique(ids, return_inverse=True)
        patients = tuple(unique_ids.tolist())
    if len(patients) < 2:
        raise StatsInputError(f"statistics need values from at least 2 patients, got {len(patients)}")
    groups = PatientGroups(table, row_patient, patients, table, table).with_values(table)
    thin = np.flatnonzero(groups.column_patients < 2)
    if thin.size:
        column = thin[0]
        label = f"model {column_names[column]!r}" if column_names is not None else f"column {column}"
        raise StatsInputError(
            f"values for {label} come from {int(groups.column_patients[column])} patient(s); statistics need 2"
        )
    return groups

"""The study's missing-data policy and model cards applied to a checked long table, with counts.

Every row gets a decided status: a blank without status takes the ``missing.blank`` policy (or is refused),
and a structure a model's card does not list becomes ``not_supported`` for it. The counts of every rule
go into results.json (``analysis.missing_data``) and the report's "missing data" table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import pandas as pd

from ..io import normalize_structure_name
from .errors import ScoreTableError
from .long_table import (
    EXCLUDED_STATUSES,
    IMPUTED_STATUSES,
    NOT_SUPPORTED,
    UNMEASURED_STATUSES,
    UNRESOLVED_STATUS,
    blank_refusal,
)
from .missing import MissingDataSettings
from .model_cards import ModelCard

CELL_KEYS = ["case_id", "model", "structure"]


@dataclass(frozen=True)
class ResolvedTable:
    """The long table with every status decided, and how many rows or cells each rule touched."""

    table: pd.DataFrame
    counts: dict[str, Any]


def resolve_table(
    table: pd.DataFrame, *, missing: MissingDataSettings, cards: Mapping[str, ModelCard], source: str
) -> ResolvedTable:
    """Apply the blank policy and the cards' structure lists; count what each rule changed or excludes."""
    table = table.copy()
    unresolved = table["status"] == UNRESOLVED_STATUS
    if unresolved.any() and missing.blank == "refuse":
        raise ScoreTableError(blank_refusal(table[unresolved].iloc[0], source=source))
    table.loc[unresolved, "status"] = missing.blank
    unlisted = _unlisted_structures(table, cards)
    table.loc[unlisted, ["status", "failure_mode"]] = [NOT_SUPPORTED, ""]
    table.loc[unlisted, "value"] = float("nan")
    cells = table.drop_duplicates(subset=CELL_KEYS)
    unlisted_cells = table[unlisted].drop_duplicates(subset=CELL_KEYS)
    n_models = table["model"].nunique()
    expected_rows = table.drop_duplicates(["case_id", "structure", "metric"]).shape[0] * n_models
    counts = {
        "blank": missing.blank,
        "alignment": missing.alignment,
        "blank_rows": int(unresolved.sum()),
        "not_supported_by_card": _per_model(unlisted_cells),
        "excluded": {status: int((cells["status"] == status).sum()) for status in EXCLUDED_STATUSES},
        "imputed_cells": int(cells["status"].isin(IMPUTED_STATUSES).sum()),
        "worst_observed_rows": int((table["status"].isin(UNMEASURED_STATUSES) & table["value"].isna()).sum()),
        "absent_rows": int(expected_rows - len(table)),
    }
    return ResolvedTable(table, counts)


def supported_models(table: pd.DataFrame, structure: str, models: list[str]) -> list[str]:
    """The models that segment ``structure``: not every one of their cells there is ``not_supported``."""
    rows = table[table["structure"] == structure]
    unsupported = rows.groupby("model")["status"].agg(
        lambda statuses: bool((statuses == NOT_SUPPORTED).all())
    )
    return [model for model in models if model in unsupported.index and not unsupported[model]]


def _unlisted_structures(table: pd.DataFrame, cards: Mapping[str, ModelCard]) -> pd.Series:
    """Rows of a structure that the model's card does not list (cards without a list segment everything)."""
    unlisted = pd.Series(False, index=table.index)
    keys = table["structure"].map(normalize_structure_name)
    for model, card in cards.items():
        if not card.structures:
            continue
        listed = {normalize_structure_name(name) for name in card.structures}
        unlisted |= (table["model"] == model) & ~keys.isin(listed)
    return unlisted


def _per_model(cells: pd.DataFrame) -> dict[str, int]:
    return {str(model): int(n) for model, n in cells.groupby("model").size().items()}

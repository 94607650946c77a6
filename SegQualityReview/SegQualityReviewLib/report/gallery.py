"""The failure gallery: per model a bounded number of its failures, each shown where it happens.

Per model at most ``GALLERY_PER_MODEL`` (case, structure) cells with a failure mode or an unreadable or
missing prediction: one of each failure mode of a prediction that was read first (a model that
hallucinates and misses shows both), then the others by the first metric, worst first, and missing or
unreadable files last (their view shows the reference only). Views need the files (``compare``); for a score table from elsewhere the
gallery lists the cells without views and says why once.
"""

from __future__ import annotations

from typing import Any, Optional

import pandas as pd

from ..batch.cases import Case
from ..batch.config import CompareConfig
from .thumbnails import failure_views

GALLERY_PER_MODEL = 3
_UNREADABLE = ("failed", "missing_pred")


def failure_gallery(
    table: pd.DataFrame,
    *,
    models: list[str],
    metric: str,
    higher_is_better: bool,
    cases: Optional[list[Case]],
    config: Optional[CompareConfig],
) -> list[dict[str, Any]]:
    """Per model: its chosen failure cells, each with a view (or the reason there is none)."""
    rows = table[table["metric"] == metric]
    failing = rows[(rows["failure_mode"] != "") | rows["status"].isin(_UNREADABLE)]
    by_case = {case.case_id: case for case in cases or []}
    sources = {model.name: model for model in config.models} if config else {}
    groups = []
    for model in models:
        mine = failing[failing["model"] == model].sort_values(
            ["value", "case_id", "structure"], ascending=[higher_is_better, True, True], na_position="first"
        )
        chosen = _one_of_each_mode(mine)
        entries = []
        for row in chosen.itertuples(index=False):
            mode = row.status if row.status in _UNREADABLE else row.failure_mode
            entry = {
                "case_id": row.case_id,
                "patient_id": row.patient_id,
                "structure": row.structure,
                "value": None if pd.isna(row.value) else float(row.value),
                "status": row.status,
                "failure_mode": mode,
                "view": None,
                "caption": "",
            }
            case = by_case.get(row.case_id)
            if case is not None and model in sources:
                entry["view"], entry["caption"] = failure_views(
                    structure=row.structure,
                    failure_mode=row.failure_mode,
                    gt_path=case.gt_path,
                    gt_label_map=config.gt_label_map,
                    pred_path=case.prediction_paths.get(model),
                    pred_label_map=sources[model].label_map,
                    image_path=case.image_path,
                )
            entries.append(entry)
        groups.append({"model": model, "entries": entries, "n_failing": int(len(mine))})
    return groups


def _one_of_each_mode(cells: pd.DataFrame) -> pd.DataFrame:
    """Up to ``GALLERY_PER_MODEL`` rows: the worst read prediction of each failure mode, the other read
    ones worst first, then missing or unreadable files."""
    read = cells[~cells["status"].isin(_UNREADABLE)]
    first_of_mode = read[~read["failure_mode"].duplicated()]
    rest = read.drop(first_of_mode.index)
    unreadable = cells[cells["status"].isin(_UNREADABLE)]
    return pd.concat([first_of_mode, rest, unreadable]).head(GALLERY_PER_MODEL)

"""Checks run before any ranking: results that are far more likely a set-up error than a bad model.

A model that scores Dice 0 on every case of a structure it declares, over at least ``MIN_CASES`` cases
where the reference holds the structure and the model's file was read, is flagged as a probable
label-mapping error (a wrong label id or name), the way segauge-benchmark spot-checks its tables: a real
model is rarely wrong everywhere on one organ and right on the others. The report shows these first.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

MIN_CASES = 2
# Cells where a prediction was read and the reference holds the structure.
_MEASURED = ("ok", "empty_pred")


def label_mapping_checks(table: pd.DataFrame, *, models: list[str]) -> dict[str, Any]:
    """``analysis.spot_checks``: flagged (model, structure) pairs, and whether the check could run."""
    if "dice" not in set(table["metric"]):
        return {
            "checked": False,
            "note": "no dice column in the score table: label-mapping check not run",
            "flags": [],
        }
    rows = table[(table["metric"] == "dice") & table["status"].isin(_MEASURED) & table["value"].notna()]
    flags = []
    for (model, structure), cells in rows.groupby(["model", "structure"], sort=False):
        if model not in models or len(cells) < MIN_CASES or (cells["value"] != 0).any():
            continue
        flags.append(
            {
                "model": model,
                "structure": structure,
                "n_cases": int(len(cells)),
                "message": (
                    f"{model} scores Dice 0 on all {len(cells)} cases of {structure}, a structure it declares: "
                    "probable label-mapping error (check its label map), not necessarily a bad model"
                ),
            }
        )
    n_cases = int(table["case_id"].nunique())
    note = "" if n_cases >= MIN_CASES else f"{n_cases} case: the label-mapping check needs {MIN_CASES}"
    return {"checked": n_cases >= MIN_CASES, "note": note, "flags": flags}

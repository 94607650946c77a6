"""The long-format score table: one row per case x model x structure x metric, with a status per row.

Columns: case_id, patient_id, model, structure, metric, value, status, failure_mode, then metadata
columns (site, scanner, ...). It is what ``compare`` writes as cases.csv and what ``analyze`` reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from .cases import Case
from .errors import ScoreTableError
from .scoring import FAILED, MISSING_PRED, CellResult

KEY_COLUMNS = ("case_id", "patient_id", "model", "structure", "metric")
LONG_COLUMNS = KEY_COLUMNS + ("value", "status", "failure_mode")
REQUIRED_COLUMNS = KEY_COLUMNS + ("value",)
# Metric columns of StructureScore written to the long table (volumes too, though not ranked by default).
SCORE_METRICS = (
    "dice",
    "iou",
    "precision",
    "recall",
    "hd",
    "hd95",
    "nsd",
    "assd",
    "masd",
    "volume_pred_ml",
    "volume_gt_ml",
    "volume_diff_ml",
)
NOT_EVALUABLE = "not_evaluable"
NOT_SUPPORTED = "not_supported"
STATUSES = ("ok", "empty_gt", "empty_pred", "both_empty", NOT_EVALUABLE, NOT_SUPPORTED, FAILED, MISSING_PRED)
# A row with no value and no status, until the study's `missing: blank` policy decides what it means.
UNRESOLVED_STATUS = ""
# Rows whose value is a policy value, not a measurement: counted as imputed, per model, in the report.
IMPUTED_STATUSES = ("empty_gt", "empty_pred", FAILED, MISSING_PRED)
# Rows left out of every aggregate: nothing to measure (no reference and no prediction), the structure is
# absent from the patient by nature, or the model does not segment the structure.
EXCLUDED_STATUSES = ("both_empty", NOT_EVALUABLE, NOT_SUPPORTED)
# Rows that may come without a value: the analysis gives them the worst value observed in their family.
UNMEASURED_STATUSES = (FAILED, MISSING_PRED)
FAILURE_MODES = (
    "missed",
    "hallucinated",
    "disjoint",
    "distant_false_positive",
    "fragmented",
    "boundary_bias",
)


def long_table_from_results(results: Iterable[CellResult], cases: list[Case]) -> pd.DataFrame:
    """The long table of scored cells, in case order, with each case's patient and metadata."""
    by_case = {case.case_id: case for case in cases}
    metadata_columns = sorted({key for case in cases for key in case.metadata})
    records = []
    for result in results:
        case = by_case[result.case_id]
        for row in result.rows:
            for metric in SCORE_METRICS:
                value = row.get(metric)
                records.append(
                    {
                        "case_id": case.case_id,
                        "patient_id": case.patient_id,
                        "model": result.model,
                        "structure": row["structure"],
                        "metric": metric,
                        "value": np.nan if value is None or value == "" else float(value),
                        "status": row["status"],
                        "failure_mode": row.get("failure_mode") or "",
                        **{column: case.metadata.get(column, "") for column in metadata_columns},
                    }
                )
    return pd.DataFrame.from_records(records, columns=list(LONG_COLUMNS) + metadata_columns)


def metadata_columns(table: pd.DataFrame) -> list[str]:
    """Columns beyond the standard ones: the metadata each slice of the analysis can group by."""
    return [column for column in table.columns if column not in LONG_COLUMNS]


def read_long_table(path: str | Path, *, blank: str = "refuse") -> pd.DataFrame:
    """Read and check a long-format CSV from this package or from elsewhere (e.g. a challenge's results).

    ``status`` defaults to ``ok`` for rows with a value and ``failure_mode`` to empty, so a plain (case,
    patient, model, structure, metric, value) table works. A row with neither a value nor a status is
    refused unless ``blank`` names a policy (``missing.MissingDataSettings``); it then keeps an empty status
    for the analysis to resolve and count.
    """
    path = Path(path)
    if not path.is_file():
        raise ScoreTableError(f"{path}: score table not found")
    try:
        text_columns = {column: str for column in KEY_COLUMNS + ("status", "failure_mode")}
        table = pd.read_csv(
            path, dtype=text_columns, keep_default_na=False, na_values={"value": ["", "nan", "NaN"]}
        )
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise ScoreTableError(f"{path}: not a readable CSV score table ({error})") from None
    return check_long_table(table, source=str(path), blank=blank)


def check_long_table(table: pd.DataFrame, *, source: str, blank: str = "refuse") -> pd.DataFrame:
    """The table with defaults filled in and types fixed; raises ``ScoreTableError`` naming ``source``."""
    missing = [column for column in REQUIRED_COLUMNS if column not in table.columns]
    if missing:
        raise ScoreTableError(f"{source}: the score table needs a '{missing[0]}' column")
    table = table.copy()
    try:
        table["value"] = pd.to_numeric(table["value"], errors="raise").astype(float)
    except (ValueError, TypeError):
        raise ScoreTableError(f"{source}: the 'value' column holds non-numeric entries") from None
    if "status" not in table.columns:
        table["status"] = UNRESOLVED_STATUS
    if "failure_mode" not in table.columns:
        table["failure_mode"] = ""
    for column in KEY_COLUMNS:
        table[column] = table[column].astype(str).str.strip()
        if (table[column] == "").any():
            raise ScoreTableError(
                f"{source}: row {int((table[column] == '').to_numpy().argmax()) + 2} has no {column}"
            )
    table["status"] = table["status"].fillna("").astype(str).str.strip()
    table.loc[(table["status"] == UNRESOLVED_STATUS) & table["value"].notna(), "status"] = "ok"
    unresolved = table["status"] == UNRESOLVED_STATUS
    if unresolved.any() and blank == "refuse":
        raise ScoreTableError(
            blank_refusal(
                table[unresolved].iloc[0], source=f"{source}: row {int(unresolved.to_numpy().argmax()) + 2}"
            )
        )
    unknown = sorted(set(table["status"]) - set(STATUSES) - {UNRESOLVED_STATUS})
    if unknown:
        raise ScoreTableError(
            f"{source}: unknown status '{unknown[0]}' (expected one of {', '.join(STATUSES)})"
        )
    table["failure_mode"] = table["failure_mode"].fillna("").astype(str).str.strip()
    modes = sorted(set(table["failure_mode"]) - set(FAILURE_MODES) - {""})
    if modes:
        raise ScoreTableError(
            f"{source}: unknown failure_mode '{modes[0]}' (expected one of {', '.join(FAILURE_MODES)})"
        )
    duplicated = table.duplicated(subset=list(KEY_COLUMNS[:1] + KEY_COLUMNS[2:]))
    if duplicated.any():
        row = table[duplicated].iloc[0]
        raise ScoreTableError(
            f"{source}: case '{row['case_id']}' model '{row['model']}' {row['structure']}/{row['metric']} appears twice"
        )
    patients = table.groupby("case_id")["patient_id"].nunique()
    if (patients > 1).any():
        raise ScoreTableError(f"{source}: case '{patients[patients > 1].index[0]}' is given two patient ids")
    for column in metadata_columns(table):
        table[column] = table[column].fillna("").astype(str)
    return table


def blank_refusal(row: pd.Series, *, source: str) -> str:
    """The one-line refusal of a row with no value and no status, naming it and the two policies."""
    return (
        f"{source} (case '{row['case_id']}', model '{row['model']}', {row['structure']}/{row['metric']}) has "
        "no value and no status; say what a blank means with a missing policy (config `missing: {blank: "
        "not_evaluable}` when the structure is absent from that patient, `failed` when the model failed; "
        "analyze --missing-blank)"
    )


def write_long_table(table: pd.DataFrame, path: Path) -> None:
    """Write the table as CSV with full float precision, so ``reanalyze`` reproduces every number."""
    table.to_csv(path, index=False, float_format="%.17g")

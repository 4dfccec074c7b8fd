"""Readers of the data contract's records: what each month's contract saw (a refused month's row
count is the next month's row-count reference)."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING

import pandas as pd

from churn_assets.warehouse.lists import GATE_RESULTS
from churn_assets.warehouse.snapshots import manifest

if TYPE_CHECKING:
    from churn_assets.warehouse.base import Warehouse


def contract_history(warehouse: Warehouse, source_name: str) -> pd.DataFrame:
    """Every month whose data contract was evaluated for a source: month, passed, and the row
    count the contract saw (a refused month's count is the next month's row-count reference)."""
    if warehouse.columns(GATE_RESULTS) is None:
        return pd.DataFrame({"month": [], "passed": [], "rows": []})
    frame = warehouse.query(
        f"SELECT month, passed, details FROM {warehouse.table(GATE_RESULTS)} WHERE asset = ? AND gate = ?",
        [f"{source_name}/snapshot", "data_contract"],
    )
    frame["month"] = pd.to_datetime(frame["month"]).dt.date
    frame["passed"] = frame["passed"].astype(bool)
    frame["rows"] = [json.loads(details).get("rows") for details in frame["details"]]
    return frame.drop(columns=["details"])


def recorded_row_counts(warehouse: Warehouse, source_name: str) -> tuple[dict[dt.date, int], dict[dt.date, int]]:
    """Row counts of a source's stored snapshots, and of the months whose contract refused them
    (recorded in `gate_results`, not stored): the references of the next month's row-count band."""
    stored = manifest(warehouse, source_name)
    counts = {m: int(n) for m, n in zip(stored["month"], stored["row_count"])}
    history = contract_history(warehouse, source_name)
    refused = {
        m: int(rows)
        for m, passed, rows in zip(history["month"], history["passed"], history["rows"])
        if not passed and m not in counts and rows is not None
    }
    return counts, refused

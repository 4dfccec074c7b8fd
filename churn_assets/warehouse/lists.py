"""Readers of the stored lists: a month's predictions, and which month's list is in force.

The predictions step writes every scored customer of a month (`predictions`) and its gate
outcomes (`gate_results`) before it reports the month materialised, so a month read here is
complete as soon as Dagster sees the predictions of that month: the next month's step depends on
it (declared in the asset graph) and never waits for, or races with, the publishing step.
"""

import datetime as dt

import pandas as pd

from churn_assets.rules.gates import MonthPredictions

PREDICTIONS = "predictions"
PUBLISHED = "published_predictions"
GATE_RESULTS = "gate_results"


def gates_asset(model: str) -> str:
    """The `asset` value under which the predictions step records its business gates."""
    return f"{model}/predictions"


def month_predictions(warehouse, model: str, month: dt.date) -> MonthPredictions:
    """A month's stored predictions as plain arrays (empty when the month scored nobody)."""
    if warehouse.columns(PREDICTIONS) is None:
        frame = pd.DataFrame({"customer_id": [], "score": [], "rank": [], "model_version": []})
    else:
        frame = warehouse.read_features(
            f"SELECT customer_id, score, rank, model_version FROM {warehouse.table(PREDICTIONS)} "
            "WHERE model = ? AND month = ?",
            [model, month],
        )
    return MonthPredictions(
        ids=frame["customer_id"].to_numpy(),
        scores=frame["score"].to_numpy(dtype=float),
        ranks=frame["rank"].to_numpy(),
        month=month,
        model_version=int(frame["model_version"].iloc[0]) if len(frame) else None,
    )


def month_gates_passed(warehouse, model: str, month: dt.date) -> bool | None:
    """Whether every business gate of the month passed; None when none was evaluated."""
    if warehouse.columns(GATE_RESULTS) is None:
        return None
    frame = warehouse.query(
        f"SELECT passed FROM {warehouse.table(GATE_RESULTS)} WHERE asset = ? AND month = ?",
        [gates_asset(model), month],
    )
    return None if frame.empty else bool(frame["passed"].astype(bool).all())


def list_in_force_month(warehouse, model: str, month: dt.date) -> dt.date | None:
    """The latest month before `month` whose list passed every business gate: the list the
    business holds when `month` is judged (a blocked month leaves the one before it in force).

    Read from the gate outcomes the predictions step records, not from `published_predictions`:
    a month that passed is published in the same run right after, and reading the predictions'
    own record keeps the dependency on the previous month's predictions, which Dagster orders."""
    if warehouse.columns(GATE_RESULTS) is None:
        return None
    value = warehouse.query(
        f"SELECT max(month) AS m FROM (SELECT month FROM {warehouse.table(GATE_RESULTS)} "
        "WHERE asset = ? AND month < ? GROUP BY month "
        "HAVING min(CASE WHEN passed THEN 1 ELSE 0 END) = 1) passed_months",
        [gates_asset(model), month],
    )["m"].iloc[0]
    return None if pd.isna(value) else pd.Timestamp(value).date()

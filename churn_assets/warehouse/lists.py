"""Readers of the stored lists: a month's predictions, and which month's list is in force.

The predictions step writes every scored customer of a month (`predictions`) and its gate
outcomes (`gate_results`) before it reports the month materialised, so a month read here is
complete as soon as Dagster sees the predictions of that month: the next month's step depends on
it (declared in the asset graph) and never waits for, or races with, the publishing step.
"""

import datetime as dt

import pandas as pd

from churn_assets.reasons import REASON_COLUMNS
from churn_assets.rules.gates import MonthPredictions
from churn_assets.rules.months import add_months

PREDICTIONS = "predictions"
PUBLISHED = "published_predictions"
# What a model with a value column adds to its predictions and published rows.
VALUE_COLUMNS = ("value", "expected_loss")
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


def score_reference(
    warehouse, model: str, month: dt.date, in_force: MonthPredictions | None
) -> MonthPredictions | None:
    """The scores to judge stability against: the month just before (listed or not), else the
    list in force. A stale reference would let one blocked month block every later one."""
    last_month = add_months(month, -1)
    if in_force is None or in_force.month == last_month:
        return in_force
    before = month_predictions(warehouse, model, last_month)
    return before if len(before.ids) else in_force


def scored_count(warehouse, model: str, month: dt.date) -> int:
    """How many customers a month's predictions hold."""
    (count,) = warehouse.query(
        f"SELECT count(*) AS n FROM {warehouse.table(PREDICTIONS)} WHERE model = ? AND month = ?", [model, month]
    )["n"].tolist()
    return int(count)


def month_list(warehouse, model: str, month: dt.date, size: int) -> pd.DataFrame:
    """The top `size` of a month's predictions by rank: the list to publish."""
    # A model with a value column publishes each customer's value and expected loss too.
    existing = {c.lower() for c in warehouse.columns(PREDICTIONS) or []}
    value = "".join(f", {c}" for c in VALUE_COLUMNS if c in existing)
    frame = warehouse.query(
        f"SELECT model, month, customer_id, score, rank, model_version{value} FROM {warehouse.table(PREDICTIONS)} "
        "WHERE model = ? AND month = ? AND rank <= ? ORDER BY rank",
        [model, month, size],
    )
    # Columns another model of the table filled: all NULL for a model without a value column.
    return frame.drop(columns=[c for c in VALUE_COLUMNS if c in frame.columns and frame[c].isna().all()])


def published_list(warehouse, model: str, month: dt.date) -> pd.DataFrame:
    """A month's published list, by rank (empty when nothing was published)."""
    existing = warehouse.columns(PUBLISHED)
    if existing is None:
        return pd.DataFrame(columns=["customer_id", "score", "rank", "model_version", "published_at"])
    # The value and reasons where the table has them (a table published before them has not, until migrated).
    extra = [c for c in (*VALUE_COLUMNS, *REASON_COLUMNS) if c in {e.lower() for e in existing}]
    frame = warehouse.query(
        f"SELECT customer_id, score, rank, model_version, {''.join(c + ', ' for c in extra)}published_at "
        f"FROM {warehouse.table(PUBLISHED)} WHERE model = ? AND month = ? ORDER BY rank",
        [model, month],
    )
    return frame.drop(columns=[c for c in VALUE_COLUMNS if c in frame.columns and frame[c].isna().all()])


def month_gates(warehouse, assets: list[str], month: dt.date) -> pd.DataFrame:
    """Every recorded gate outcome of `assets` for the month."""
    return warehouse.query(
        "SELECT asset, gate, passed, severity, value, threshold, summary, details "
        f"FROM {warehouse.table(GATE_RESULTS)} "
        f"WHERE month = ? AND asset IN ({', '.join('?' for _ in assets)}) ORDER BY asset, gate",
        [month, *assets],
    )


def gate_history(warehouse, model: str, gate: str, until: dt.date) -> pd.DataFrame:
    """(month, value) of one business gate of a model, every month up to `until` that judged it."""
    history = warehouse.query(
        f"SELECT month, value FROM {warehouse.table(GATE_RESULTS)} WHERE asset = ? AND gate = ? "
        "AND month <= ? ORDER BY month",
        [gates_asset(model), gate, until],
    )
    return history[history["value"] != "null"]


def listed_features(
    warehouse, model: str, month: dt.date, size: int, snapshot: str, columns: list[str]
) -> pd.DataFrame:
    """The snapshot's `columns` of the customers on a month's list (the top `size` by rank), in
    rank order: what the list's reasons are computed from, read for the listed customers only."""
    wanted = ", ".join(f"s.{column}" for column in columns if column != "customer_id")
    return warehouse.read_features(
        f"SELECT p.customer_id, {wanted} FROM {warehouse.table(PREDICTIONS)} p "
        f"JOIN {warehouse.table(snapshot)} s ON s.customer_id = p.customer_id AND s.snapshot_month = p.month "
        "WHERE p.model = ? AND p.month = ? AND p.rank <= ? ORDER BY p.rank",
        [model, month, size],
    )

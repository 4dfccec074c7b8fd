"""Readers of the looking-back tables: the realised outcome of each published list
(`list_outcomes`) and the drift of every feature month over month (`feature_drift`), kept in the
warehouse beside the lists so the history outlives any Dagster instance (`churn-assets sql`)."""

from __future__ import annotations

import datetime as dt

import pandas as pd

LIST_OUTCOMES = "list_outcomes"
FEATURE_DRIFT = "feature_drift"


def month_labels(warehouse, relation: str, label: str, snapshot: str, month: dt.date) -> pd.DataFrame:
    """(customer_id, label) of the customers of `month`'s stored snapshot whose label the source
    now knows: read from the source (the relation), joined in the warehouse to the snapshot's
    customers, as the training sets read theirs."""
    frame = warehouse.read_labels(relation, label, snapshot, [month])
    return frame[["customer_id", label]]


def outcome_history(warehouse, model: str, until: dt.date | None = None) -> pd.DataFrame:
    """Every stored outcome of a model's lists (by the month judged), up to `until` if given."""
    if warehouse.columns(LIST_OUTCOMES) is None:
        return pd.DataFrame(columns=["month", "list_month", "model_version", "precision", "base_rate", "lift"])
    where, params = ("AND month <= ?", [until]) if until else ("", [])
    frame = warehouse.query(
        f"SELECT * FROM {warehouse.table(LIST_OUTCOMES)} WHERE model = ? {where} ORDER BY month", [model, *params]
    )
    frame.columns = [str(c).lower() for c in frame.columns]
    for column in ("month", "list_month", "evaluated_month"):
        frame[column] = pd.to_datetime(frame[column]).dt.date
    return frame


def month_drift(warehouse, model: str, month: dt.date) -> pd.DataFrame:
    """The PSI of every feature of a model's month against the month before, most drifted first."""
    if warehouse.columns(FEATURE_DRIFT) is None:
        return pd.DataFrame(columns=["feature", "kind", "psi", "previous_month", "drifted"])
    frame = warehouse.query(
        f"SELECT feature, kind, psi, previous_month, drifted FROM {warehouse.table(FEATURE_DRIFT)} "
        "WHERE model = ? AND month = ? ORDER BY psi DESC, feature",
        [model, month],
    )
    frame.columns = [str(c).lower() for c in frame.columns]
    return frame


def published_months(warehouse, model: str, until: dt.date) -> list[dt.date]:
    """The months up to `until` whose list was published."""
    from churn_assets.warehouse.lists import PUBLISHED

    if warehouse.columns(PUBLISHED) is None:
        return []
    frame = warehouse.query(
        f"SELECT DISTINCT month FROM {warehouse.table(PUBLISHED)} WHERE model = ? AND month <= ? ORDER BY month",
        [model, until],
    )
    return [pd.Timestamp(m).date() for m in frame["month"]]

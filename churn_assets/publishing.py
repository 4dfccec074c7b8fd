"""The list a month publishes: the top of its ranking, each customer with the reasons the
champion itself gives for their score (plain functions; the published asset calls them)."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from churn_assets.reasons import REASON_COLUMNS, top_reasons
from churn_assets.rules.lists import list_size
from churn_assets.warehouse import registry
from churn_assets.warehouse.lists import listed_features, month_list, scored_count
from churn_assets.warehouse.snapshots import snapshot_table


def list_to_publish(warehouse, spec, month: dt.date) -> pd.DataFrame:
    """The month's list by rank with every listed customer's top reasons (REASON_COLUMNS), from
    the version that scored the month; `published_at` is set when it is written."""
    size = list_size(scored_count(warehouse, spec.name, month), spec.list_top_fraction)
    frame = month_list(warehouse, spec.name, month, size)
    if frame.empty:
        return frame.assign(**{column: pd.Series(dtype="object") for column in REASON_COLUMNS})
    version = registry.get_version(warehouse, spec.name, int(frame["model_version"].iloc[0]))
    features = listed_features(warehouse, spec.name, month, size, snapshot_table(spec.source.name), list(spec.features))
    if len(features) != len(frame) or not (features["customer_id"].to_numpy() == frame["customer_id"].to_numpy()).all():
        raise RuntimeError(f"{spec.name} {month}: the listed customers' snapshot rows do not match the list")
    reasons = top_reasons(version.artifact, version.feature_schema, features)
    return pd.concat([frame.reset_index(drop=True), reasons.reset_index(drop=True)], axis=1)

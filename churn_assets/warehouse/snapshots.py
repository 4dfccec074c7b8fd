"""Readers of the stored snapshots: the manifest of what was taken, and the frames the model
and scoring steps read from them (features joined in the warehouse)."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING

import pandas as pd

from churn_assets import modeling
from churn_assets.rules.months import add_months, last_completed_month
from churn_assets.warehouse.base import take_rows

if TYPE_CHECKING:
    from churn_assets.catalog import Catalog, SourceSpec
    from churn_assets.warehouse.base import Warehouse

SNAPSHOT_MANIFEST = "snapshot_manifest"


def snapshot_table(source_name: str) -> str:
    return f"snapshot_{source_name}"


def training_set_table(model_name: str) -> str:
    return f"training_set_{model_name}"


def manifest(warehouse: Warehouse, source_name: str) -> pd.DataFrame:
    """Stored snapshots of a source (month, content hash, row count)."""
    if warehouse.columns(SNAPSHOT_MANIFEST) is None:
        return pd.DataFrame(columns=["month", "content_hash", "row_count"])
    frame = warehouse.query(
        f"SELECT month, content_hash, row_count FROM {warehouse.table(SNAPSHOT_MANIFEST)} WHERE source = ?",
        [source_name],
    )
    frame["month"] = pd.to_datetime(frame["month"]).dt.date
    return frame


def stored_snapshot_months(warehouse: Warehouse, source_name: str) -> dict[dt.date, str]:
    """Months with a stored (contract-passing) snapshot, and their content hashes."""
    stored = manifest(warehouse, source_name)
    return dict(zip(stored["month"], stored["content_hash"]))


def known_source_columns(warehouse: Warehouse, source: SourceSpec) -> tuple[set[str], set[str]] | None:
    """Columns of the live source and of its last stored snapshot; None if neither exists yet.

    A column the live view lost but the last snapshot had is still "known": such a regression
    is for the data contract to stop at run time, not for the code location to refuse to load.
    """
    live = warehouse.relation_columns(warehouse.relation_for(source)) or []
    snapshotted: list[str] = []
    if warehouse.columns(SNAPSHOT_MANIFEST) is not None:
        latest = warehouse.query(
            f"SELECT columns FROM {warehouse.table(SNAPSHOT_MANIFEST)} WHERE source = ? ORDER BY month DESC LIMIT 1",
            [source.name],
        )
        snapshotted = json.loads(latest["columns"].iloc[0]) if len(latest) else []
    if not live and not snapshotted:
        return None
    return set(live) | set(snapshotted), set(live)


def month_features(warehouse, source_name: str, month: dt.date, columns: list[str]) -> pd.DataFrame:
    """Columns of one month's stored snapshot (features as the model reads them)."""
    return warehouse.read_features(
        f"SELECT {', '.join(columns)} FROM {warehouse.table(snapshot_table(source_name))} WHERE snapshot_month = ?",
        [month],
    )


def training_frame(warehouse, spec, month) -> pd.DataFrame:
    """The training set of `month` with its features, joined in the warehouse from the snapshots,
    in a fixed row order (by snapshot month, then customer): XGBoost's subsampling and the holdout
    split depend on it, so every engine trains the same model. Sorted here rather than with an
    ORDER BY, which would make the warehouse hold the whole sorted result before the first row
    streams out (1.2 GB for 10M narrow rows)."""
    if warehouse.columns(training_set_table(spec.name)) is None:
        return pd.DataFrame(columns=["customer_id", "snapshot_month", "label", *spec.features])
    features = ", ".join(f"s.{f}" for f in spec.features)
    frame = warehouse.read_features(
        f"SELECT t.customer_id, t.snapshot_month, t.label, {features} "
        f"FROM {warehouse.table(training_set_table(spec.name))} t "
        f"JOIN {warehouse.table(snapshot_table(spec.source.name))} s "
        "ON s.customer_id = t.customer_id AND s.snapshot_month = t.snapshot_month "
        "WHERE t.training_month = ?",
        [month],
    )
    return take_rows(frame, modeling.row_order(frame, ["snapshot_month", "customer_id"]))


def timing_problems(warehouse: Warehouse, catalog: Catalog, source: SourceSpec, relation: str, month: dt.date):
    """What the source cannot know yet: rows dated after the last completed month, and labels of
    this month filled in before their window has closed (both would leak the future)."""
    newest = last_completed_month()
    future = int(
        warehouse.query(f"SELECT count(*) AS n FROM {relation} WHERE snapshot_month > ?", [newest])["n"].iloc[0]
    )
    if future:
        yield (
            "no_rows_dated_in_the_future",
            "snapshot_month",
            f"{future} rows dated after {newest}, the last completed month",
        )
    checked = set()
    for model in catalog.models_of_source(source.name):
        if model.label not in checked and add_months(month, model.horizon_months) > newest:
            checked.add(model.label)
            known = int(
                warehouse.query(
                    f"SELECT count(*) AS n FROM {relation} WHERE snapshot_month = ? AND {model.label} IS NOT NULL",
                    [month],
                )["n"].iloc[0]
            )
            if known:
                yield (
                    "labels_unknown_until_their_window_closes",
                    model.label,
                    f"{known} rows of {month} already have {model.label}, whose {model.horizon_months}-month window "
                    f"closes after {newest}",
                )

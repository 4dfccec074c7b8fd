"""Names and helpers shared by the asset factories."""

import datetime as dt

import pandas as pd
from dagster import AssetExecutionContext, AssetKey, TableColumn, TableSchema

SNAPSHOT_MANIFEST = "snapshot_manifest"
PREDICTIONS = "predictions"
PUBLISHED = "published_predictions"


def snapshot_table(source_name: str) -> str:
    return f"snapshot_{source_name}"


def training_set_table(model_name: str) -> str:
    return f"training_set_{model_name}"


def snapshot_key(source_name: str) -> AssetKey:
    return AssetKey([source_name, "snapshot"])


def model_key(model_name: str, stage: str) -> AssetKey:
    return AssetKey([model_name, stage])


def partition_month(context: AssetExecutionContext) -> dt.date:
    """The month a run is for: partition keys are the first day of the month."""
    return dt.date.fromisoformat(context.partition_key)


def column_schema(frame: pd.DataFrame) -> TableSchema:
    """The columns of a stored frame and their types, for the UI's column schema view."""
    return TableSchema(columns=[TableColumn(str(name), str(dtype)) for name, dtype in frame.dtypes.items()])

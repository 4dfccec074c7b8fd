"""Names and helpers shared by the asset factories."""

import datetime as dt

import pandas as pd
from dagster import (
    AssetCheckKey,
    AssetCheckResult,
    AssetDep,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    Failure,
    MaterializeResult,
    TableColumn,
    TableSchema,
    TimeWindowPartitionMapping,
    multi_asset,
)

# The stored tables' names, for the asset modules.
from churn_assets.keys import model_key, snapshot_key  # noqa: F401
from churn_assets.warehouse.lists import PREDICTIONS, PUBLISHED  # noqa: F401
from churn_assets.warehouse.snapshots import SNAPSHOT_MANIFEST, snapshot_table, training_set_table  # noqa: F401


def partition_month(context: AssetExecutionContext) -> dt.date:
    """The month a run is for: partition keys are the first day of the month."""
    return dt.date.fromisoformat(context.partition_key)


def column_schema(frame: pd.DataFrame) -> TableSchema:
    """The columns of a stored frame and their types, for the UI's column schema view."""
    return TableSchema(columns=[TableColumn(str(name), str(dtype)) for name, dtype in frame.dtypes.items()])


def previous_month(key: AssetKey) -> AssetDep:
    """A dependency on the same asset's previous month (none before the first partition): what a
    month reads from the month before is declared, so Dagster orders months in backfills."""
    return AssetDep(
        key,
        partition_mapping=TimeWindowPartitionMapping(
            start_offset=-1, end_offset=-1, allow_nonexistent_upstream_partitions=True
        ),
    )


def asset_with_gates(key: AssetKey, check_specs, partitions_def, retry_policy, **spec):
    """An asset whose gates are evaluated only when there is something to judge.

    A month with nothing to judge (no labelled month yet, no champion in force) still
    materialises, saying why in its metadata, so the next month, which depends on it, runs; its
    gates show as not evaluated for that month rather than passing a list that does not exist.
    (Dagster's `@asset` requires every check result; a subsettable multi-asset of one asset
    does not.) The op keeps `@asset`'s name, so step keys stay `<model>__<stage>`."""
    return multi_asset(
        name=key.to_python_identifier(),
        specs=[AssetSpec(key, **spec)],
        check_specs=check_specs,
        partitions_def=partitions_def,
        retry_policy=retry_policy,
        can_subset=True,
    )


def materialized(context: AssetExecutionContext, key: AssetKey, result: MaterializeResult):
    """Yield a gated asset's result: its materialisation, then the selected gates' results."""
    if key not in context.selected_asset_keys:
        raise Failure(f"{key.to_user_string()}'s gates are evaluated when it is materialised: select the asset too.")
    checks: list[AssetCheckResult] = list(result.check_results or [])
    selected = context.selected_asset_check_keys
    yield MaterializeResult(
        asset_key=key,
        metadata=result.metadata,
        data_version=result.data_version,
        check_results=[c for c in checks if AssetCheckKey(key, c.check_name) in selected],
    )

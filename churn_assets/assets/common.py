"""Names and helpers shared by the asset factories."""

import datetime as dt

import dagster as dg
import pandas as pd

from churn_assets.assets.retries import WAREHOUSE_RETRY
from churn_assets.catalog import ModelSpec
from churn_assets.checks.results import record_gates

# The stored tables' names, for the asset modules.
from churn_assets.keys import model_key, snapshot_key  # noqa: F401
from churn_assets.reports import write_report
from churn_assets.warehouse.lists import PREDICTIONS, PUBLISHED  # noqa: F401
from churn_assets.warehouse.snapshots import SNAPSHOT_MANIFEST, snapshot_table, training_set_table  # noqa: F401


def of_model(spec: ModelSpec, stage: str, partitions_def: dg.PartitionsDefinition) -> dict:
    """What every asset of a model shares: its key, group (the model), owners, months and retries."""
    return {
        "key": model_key(spec.name, stage),
        "group_name": spec.name,
        "owners": list(spec.owners),
        "partitions_def": partitions_def,
        "retry_policy": WAREHOUSE_RETRY,
    }


def gate(
    key: dg.AssetKey, name: str, partitions_def: dg.PartitionsDefinition, description: str, blocking: bool = False
) -> dg.AssetCheckSpec:
    """A gate of an asset; partitioned like it, so each evaluation belongs to its month in the UI."""
    return dg.AssetCheckSpec(name, asset=key, partitions_def=partitions_def, blocking=blocking, description=description)


def partition_month(context: dg.AssetExecutionContext) -> dt.date:
    """The month a run is for: partition keys are the first day of the month."""
    return dt.date.fromisoformat(context.partition_key)


def column_schema(frame: pd.DataFrame) -> dg.TableSchema:
    """The columns of a stored frame and their types, for the UI's column schema view."""
    return dg.TableSchema(columns=[dg.TableColumn(str(name), str(dtype)) for name, dtype in frame.dtypes.items()])


def previous_month(key: dg.AssetKey) -> dg.AssetDep:
    """A dependency on the same asset's previous month (none before the first partition): what a
    month reads from the month before is declared, so Dagster orders months in backfills."""
    return months_before(key, 1)


def months_before(key: dg.AssetKey, months: int) -> dg.AssetDep:
    """A dependency on `key`'s month `months` months before this one (none before the first)."""
    return dg.AssetDep(
        key,
        partition_mapping=dg.TimeWindowPartitionMapping(
            start_offset=-months, end_offset=-months, allow_nonexistent_upstream_partitions=True
        ),
    )


def asset_with_gates(key: dg.AssetKey, check_specs, partitions_def, retry_policy, **spec):
    """An asset whose gates are evaluated only when there is something to judge.

    A month with nothing to judge (no labelled month yet, no champion in force) still
    materialises, saying why in its metadata, so the next month, which depends on it, runs; its
    gates show as not evaluated for that month rather than passing a list that does not exist.
    (Dagster's `@asset` requires every check result; a subsettable multi-asset of one asset
    does not.) The op keeps `@asset`'s name, so step keys stay `<model>__<stage>`."""
    return dg.multi_asset(
        name=key.to_python_identifier(),
        specs=[dg.AssetSpec(key, **spec)],
        check_specs=check_specs,
        partitions_def=partitions_def,
        retry_policy=retry_policy,
        can_subset=True,
    )


def materialized(context: dg.AssetExecutionContext, key: dg.AssetKey, result: dg.MaterializeResult):
    """Yield a gated asset's result: its materialisation, then the selected gates' results."""
    if key not in context.selected_asset_keys:
        raise dg.Failure(f"{key.to_user_string()}'s gates are evaluated when it is materialised: select the asset too.")
    checks: list[dg.AssetCheckResult] = list(result.check_results or [])
    selected = context.selected_asset_check_keys
    yield dg.MaterializeResult(
        asset_key=key,
        metadata=result.metadata,
        data_version=result.data_version,
        check_results=[c for c in checks if dg.AssetCheckKey(key, c.check_name) in selected],
    )


def gated_result(context, warehouse, key: dg.AssetKey, month: dt.date, metadata: dict, checks=(), data_version=None):
    """Record the month's gate outcomes in the warehouse (none: not evaluated, nothing to judge)
    and yield the gated asset's result with them."""
    record_gates(warehouse, key, month, list(checks))
    result = dg.MaterializeResult(metadata=metadata, check_results=list(checks), data_version=data_version)
    yield from materialized(context, key, result)


def write_not_published_pages(context, warehouse, models: list[ModelSpec], month: dt.date, reports_dir) -> None:
    """A blocking gate failed: Dagster skips everything downstream, the report asset included, so
    the blocked models' NOT PUBLISHED pages are written here (the one place that writes them), from
    the gate outcomes already recorded, so stakeholders still get the month's page."""
    for model in models:
        page = write_report(warehouse, model, month, reports_dir)
        context.log.info(f"NOT PUBLISHED page of {model.name} for {month} written to {page.html}")

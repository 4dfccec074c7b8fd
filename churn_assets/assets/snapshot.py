"""The monthly snapshot of a source: an immutable copy of one month, guarded by its data contract."""

from pathlib import Path

import dagster as dg

from churn_assets.assets.common import (
    column_schema,
    gate,
    partition_month,
    previous_month,
    snapshot_key,
    snapshot_table,
    write_not_published_pages,
)
from churn_assets.assets.retries import WAREHOUSE_RETRY, fail_fast_unless_transient
from churn_assets.catalog import Catalog, SourceSpec
from churn_assets.checks.contract import ContractSpec
from churn_assets.checks.results import check_result, record_gates
from churn_assets.snapshotting import (
    CONTRACT_CHECK,
    JudgedSnapshot,
    SnapshotRefused,
    contract_gate,
    judge_month,
    store_snapshot,
)
from churn_assets.warehouse import Warehouse
from churn_assets.warehouse.files import ensure_loaded


class SnapshotConfig(dg.Config):
    """Run config of a snapshot."""

    force: bool = False
    """Replace a past snapshot whose content the source has since changed (normally refused)."""


def contract_for(catalog: Catalog, source: SourceSpec) -> ContractSpec:
    """The source's contract: its own rules plus every column some model of it needs, typed as
    the models use it (numeric features must be numbers, categorical ones text)."""
    columns, numeric, text, flags = ["customer_id", "snapshot_month", *source.required_columns], [], [], []
    for model in catalog.models_of_source(source.name):
        columns += list(model.features) + [rule.column for rule in model.exclusions]
        numeric += list(model.numeric_features)
        text += list(model.categorical_features)
        flags += [rule.column for rule in model.exclusions]
    text = list(dict.fromkeys(text))
    # A customer's value is a number, never NULL or negative: the expected loss is never guessed.
    values = [m.value_column for m in catalog.models_of_source(source.name) if m.value_column]
    columns += values
    numeric += values
    flags += values
    ranges = dict(source.value_ranges)
    for column in values:
        low, high = ranges.get(column, (None, None))
        ranges[column] = (0 if low is None else max(low, 0), high)
    return ContractSpec(
        required_columns=list(dict.fromkeys(columns)),
        # A value column is a number even if a model also treats it as a category (a mistake said here).
        numeric_columns=[c for c in dict.fromkeys(numeric) if c not in text or c in values],
        text_columns=text,
        # A NULL exclusion flag cannot say whether the customer may be contacted: never a default.
        not_null=list(dict.fromkeys([*source.not_null, *flags])),
        may_be_constant=list(source.may_be_constant),
        allowed_values=dict(source.allowed_values),
        value_ranges=ranges,
    )


def build_snapshot_asset(
    catalog: Catalog, source: SourceSpec, partitions_def: dg.PartitionsDefinition, kind: str, reports_dir: Path
) -> dg.AssetsDefinition:
    """The snapshot asset of one source, shared by every model that reads it."""
    key = snapshot_key(source.name)
    contract_spec = contract_for(catalog, source)
    needed = contract_spec.required_columns

    @dg.asset(
        key=key,
        group_name=source.name,
        partitions_def=partitions_def,
        retry_policy=WAREHOUSE_RETRY,
        # Last month's stored row count is this month's row-count band.
        deps=[previous_month(key)],
        kinds={kind, "pandas"},
        owners=sorted({o for m in catalog.models_of_source(source.name) for o in m.owners}),
        check_specs=[contract_check(key, partitions_def)],
        description=f"Immutable copy of `{source.relation or source.files}` for one month (labels excluded). "
        "Its data version is a content hash; a re-run that would change a past snapshot is refused "
        "unless run with `force: true`.",
        metadata={"source": source.relation or source.files, "required_columns": dg.MetadataValue.json(needed)},
    )
    @fail_fast_unless_transient
    def snapshot(context: dg.AssetExecutionContext, config: SnapshotConfig, warehouse: Warehouse):
        month = partition_month(context)
        judged = read_and_judge(context, warehouse, catalog, source, contract_spec, month, config.force)
        check = check_result(contract_gate(judged), key)
        if not check.passed and judged.taken_before:
            # This month was stored (and its lists published) before: what it published stays on
            # record. The failed check still blocks this run, so nothing is published again.
            context.log.error(f"Data contract failed for {source.name} {month}, taken before: kept as it was.")
            return dg.MaterializeResult(metadata=refused_metadata(judged, kept=True), check_results=[check])
        record_gates(warehouse, key, month, [check])
        if not check.passed:
            # Keep whatever was stored before: a bad month must not overwrite a good copy, and the
            # blocking check stops everything downstream. Each blocked model gets its NOT PUBLISHED page.
            context.log.error(f"Data contract failed for {source.name} {month}: {check.description}")
            write_not_published_pages(context, warehouse, catalog.models_of_source(source.name), month, reports_dir)
            return dg.MaterializeResult(metadata=refused_metadata(judged, kept=False), check_results=[check])
        if not judged.unchanged:
            context.log.info(f"Storing {len(judged.frame):,} rows in {warehouse.table(snapshot_table(source.name))}")
            store_snapshot(warehouse, source.name, month, judged)
        return dg.MaterializeResult(
            metadata=stored_metadata(judged, warehouse.table(snapshot_table(source.name))),
            check_results=[check],
            data_version=dg.DataVersion(judged.content_hash),
        )

    return snapshot


def contract_check(key: dg.AssetKey, partitions_def: dg.PartitionsDefinition) -> dg.AssetCheckSpec:
    """The snapshot's data contract, a blocking gate: nothing downstream runs on a refused month."""
    return gate(
        key,
        CONTRACT_CHECK,
        partitions_def,
        "Great Expectations suite: required columns, unique non-null customer_id, value ranges, row count within a "
        "band of last month's.",
        blocking=True,
    )


def read_and_judge(context, warehouse, catalog, source, contract_spec, month, force: bool) -> JudgedSnapshot:
    """Read the source's month (loading its files first) and judge it by its contract; a month
    that cannot be taken (out of order, a past snapshot changed) fails the step with one line."""
    if source.files:
        ensure_loaded(warehouse, catalog, source, log=context.log.info)
    context.log.info(f"Reading {warehouse.relation_for(source)} for {month}")
    try:
        return judge_month(warehouse, catalog, source, contract_spec, month, force=force)
    except SnapshotRefused as refused:
        raise dg.Failure(str(refused)) from None


def refused_metadata(judged: JudgedSnapshot, kept: bool) -> dict:
    """A month its contract refused: nothing stored (a snapshot taken before is kept as it was)."""
    return {
        "rows": len(judged.frame),
        "stored": False,
        **({"kept_snapshot_taken_before": True} if kept else {}),
        "reason": judged.contract.summary(),
    }


def stored_metadata(judged: JudgedSnapshot, table: str) -> dict:
    return {
        "rows": len(judged.frame),
        "stored": True,
        "unchanged_since_last_run": judged.unchanged,
        "content_hash": judged.content_hash,
        "table": table,
        "dagster/row_count": len(judged.frame),
        "dagster/column_schema": column_schema(judged.frame),
    }

"""The monthly snapshot of a source: an immutable copy of one month, guarded by its data contract."""

import json
from pathlib import Path

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    Config,
    DataVersion,
    Failure,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    asset,
)

from churn_assets.assets.common import (
    SNAPSHOT_MANIFEST,
    column_schema,
    partition_month,
    previous_month,
    snapshot_key,
    snapshot_table,
)
from churn_assets.assets.retries import WAREHOUSE_RETRY, fail_fast_unless_transient
from churn_assets.catalog import Catalog, SourceSpec
from churn_assets.checks.contract import ContractSpec, validate_snapshot
from churn_assets.checks.results import record_gates
from churn_assets.modeling import frame_hash
from churn_assets.reports import write_report
from churn_assets.rules.lists import exclusion_problems
from churn_assets.rules.row_count import month_to_run_first, row_count_band
from churn_assets.warehouse import Warehouse
from churn_assets.warehouse.files import ensure_loaded
from churn_assets.warehouse.snapshots import manifest, recorded_row_counts, timing_problems

CONTRACT_CHECK = "data_contract"


class SnapshotConfig(Config):
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
    return ContractSpec(
        required_columns=list(dict.fromkeys(columns)),
        numeric_columns=[c for c in dict.fromkeys(numeric) if c not in text],
        text_columns=text,
        # A NULL exclusion flag cannot say whether the customer may be contacted: never a default.
        not_null=list(dict.fromkeys([*source.not_null, *flags])),
        may_be_constant=list(source.may_be_constant),
        allowed_values=dict(source.allowed_values),
        value_ranges=dict(source.value_ranges),
    )


def build_snapshot_asset(
    catalog: Catalog, source: SourceSpec, partitions_def: PartitionsDefinition, kind: str, reports_dir: Path
) -> AssetsDefinition:
    """The snapshot asset of one source, shared by every model that reads it."""
    key = snapshot_key(source.name)
    contract_spec = contract_for(catalog, source)
    needed = contract_spec.required_columns
    labels = catalog.label_columns(source.name)
    exclusions = [rule for model in catalog.models_of_source(source.name) for rule in model.exclusions]

    @asset(
        key=key,
        group_name=source.name,
        partitions_def=partitions_def,
        retry_policy=WAREHOUSE_RETRY,
        # Last month's stored row count is this month's row-count band.
        deps=[previous_month(key)],
        kinds={kind, "pandas"},
        owners=sorted({o for m in catalog.models_of_source(source.name) for o in m.owners}),
        check_specs=[
            AssetCheckSpec(
                CONTRACT_CHECK,
                asset=key,
                partitions_def=partitions_def,  # each evaluation belongs to its month in the UI
                blocking=True,
                description="Great Expectations suite: required columns, unique non-null customer_id, "
                "value ranges, row count within a band of last month's.",
            )
        ],
        description=f"Immutable copy of `{source.relation or source.files}` for one month (labels excluded). "
        "Its data version is a content hash; a re-run that would change a past snapshot is refused "
        "unless run with `force: true`.",
        metadata={"source": source.relation or source.files, "required_columns": MetadataValue.json(needed)},
    )
    @fail_fast_unless_transient
    def snapshot(context: AssetExecutionContext, config: SnapshotConfig, warehouse: Warehouse):
        month = partition_month(context)
        if source.files:
            ensure_loaded(warehouse, catalog, source, log=context.log.info)
        relation = warehouse.relation_for(source)
        context.log.info(f"Reading {relation} for {month}")
        frame = warehouse.read_source_month(relation, month, exclude_columns=labels)
        previous = manifest(warehouse, source.name)
        stored = previous[previous["month"] == month]

        content_hash = frame_hash(frame, ["customer_id"]) if "customer_id" in frame.columns and len(frame) else "empty"
        if len(stored) and stored.iloc[0]["content_hash"] != content_hash and not config.force:
            raise Failure(
                f"The snapshot of '{source.name}' for {month} was taken before "
                f"({int(stored.iloc[0]['row_count'])} rows, hash {stored.iloc[0]['content_hash'][:12]}) and the "
                f"source now gives different content ({len(frame)} rows, hash {content_hash[:12]}). "
                "Snapshots are immutable; to replace it on purpose, re-run with run config "
                f"ops: {{{key.to_python_identifier()}: {{config: {{force: true}}}}}} "
                "(or `churn-assets run --force-snapshot`)."
            )

        stored_counts, refused = recorded_row_counts(warehouse, source.name)
        first = month_to_run_first(month, set(stored_counts) | set(refused))
        if first is not None:
            raise Failure(
                f"{month} of source '{source.name}' cannot run before {first}: {first} has neither a stored snapshot "
                f"nor a refused contract on record (never run, or its run failed with an error); run {first} first"
            )
        band, band_note = row_count_band(month, len(frame), stored_counts, refused, source.max_row_count_change)
        contract = validate_snapshot(frame, contract_spec, band)
        if band_note:
            contract.notes.append(band_note)
        for expectation, column, what in timing_problems(warehouse, catalog, source, relation, month):
            contract.add_failure(expectation, column, what)
        for column, problem in exclusion_problems(frame, exclusions):
            contract.add_failure("exclusion_value_matches_column_type", column, problem)
        check = AssetCheckResult(
            check_name=CONTRACT_CHECK,
            passed=contract.passed,
            severity=AssetCheckSeverity.ERROR,
            description=contract.summary(),
            metadata={
                "rows": contract.row_count,
                "missing_columns": MetadataValue.json(contract.missing_columns),
                "failed_expectations": MetadataValue.json(contract.failures),
                "expectations_evaluated": contract.evaluated,
                "row_count_band": MetadataValue.json(list(band)) if band else MetadataValue.text(band_note),
                **({"row_count_reference": MetadataValue.text(band_note)} if band and band_note else {}),
            },
        )
        if not contract.passed and len(stored):
            # This month was stored (and its lists published) before: what it published stays on
            # record. The failed check still blocks this run, so nothing is published again.
            context.log.error(
                f"Data contract failed for {source.name} {month}, taken before: its stored snapshot, gate record and "
                f"report are kept as they were. {contract.summary()}"
            )
            return MaterializeResult(
                metadata={
                    "rows": len(frame),
                    "stored": False,
                    "kept_snapshot_taken_before": True,
                    "reason": contract.summary(),
                },
                check_results=[check],
            )
        record_gates(warehouse, key, month, [check])
        if not contract.passed:
            # Keep whatever was stored before: a bad month must not overwrite a good copy, and
            # the blocking check stops everything downstream.
            context.log.error(f"Data contract failed for {source.name} {month}: {contract.summary()}")
            for model in catalog.models_of_source(source.name):
                # Every model of the source is blocked this month: each gets its NOT PUBLISHED page.
                write_report(warehouse, model, month, reports_dir)
            return MaterializeResult(
                metadata={"rows": len(frame), "stored": False, "reason": contract.summary()},
                check_results=[check],
            )

        unchanged = len(stored) and stored.iloc[0]["content_hash"] == content_hash
        if not unchanged:
            context.log.info(f"Storing {len(frame):,} rows in {warehouse.table(snapshot_table(source.name))}")
            warehouse.replace_rows(snapshot_table(source.name), {"snapshot_month": month}, frame)
            warehouse.replace_rows(
                SNAPSHOT_MANIFEST,
                {"source": source.name, "month": month},
                pd.DataFrame(
                    [
                        {
                            "source": source.name,
                            "month": month,
                            "content_hash": content_hash,
                            "row_count": len(frame),
                            "columns": json.dumps(list(frame.columns)),
                            "taken_at": pd.Timestamp.now(tz="UTC"),
                        }
                    ]
                ),
            )
        return MaterializeResult(
            metadata={
                "rows": len(frame),
                "stored": True,
                "unchanged_since_last_run": bool(unchanged),
                "content_hash": content_hash,
                "table": warehouse.table(snapshot_table(source.name)),
                "dagster/row_count": len(frame),
                "dagster/column_schema": column_schema(frame),
            },
            check_results=[check],
            data_version=DataVersion(content_hash),
        )

    return snapshot

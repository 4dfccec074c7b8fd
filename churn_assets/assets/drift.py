"""Drift of every feature of a model between the snapshot of a month and of the month before."""

from dagster import (
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
)

from churn_assets.assets.common import asset_with_gates, materialized, model_key, partition_month, snapshot_key
from churn_assets.assets.retries import WAREHOUSE_RETRY, fail_fast_unless_transient
from churn_assets.catalog import ModelSpec
from churn_assets.checks.results import check_result, record_gates
from churn_assets.drift import month_drift, no_previous_snapshot, store_drift
from churn_assets.rules.drift import FEATURE_DRIFT
from churn_assets.warehouse import Warehouse
from churn_assets.warehouse.outcomes import FEATURE_DRIFT as DRIFT_TABLE


def build_feature_drift_asset(spec: ModelSpec, partitions_def: PartitionsDefinition, kind: str) -> AssetsDefinition:
    """One per model rather than on the shared snapshot: the features and the threshold are the
    model's, so the alert names the model whose inputs moved; and the snapshot's own gate (the
    contract) blocks while drift only warns, so it never holds a month's snapshot or list back."""
    key = model_key(spec.name, "feature_drift")
    source = snapshot_key(spec.source.name)
    threshold = spec.gates.max_feature_psi

    @asset_with_gates(
        key,
        partitions_def=partitions_def,
        retry_policy=WAREHOUSE_RETRY,
        group_name=spec.name,
        # Reads the snapshots of the month and of the month before, declared on the month's own:
        # snapshots form a chain (each depends on the one before), so once M's exists M-1's does,
        # and a UI backfill of some months targets those months only (a window mapping made Dagster
        # add the month after each one).
        deps=[source],
        kinds={kind, "pandas"},
        owners=list(spec.owners),
        check_specs=[
            AssetCheckSpec(
                FEATURE_DRIFT,
                asset=key,
                partitions_def=partitions_def,
                description=f"No feature's PSI against last month's snapshot above {threshold} (catalogue "
                "`gates.max_feature_psi`); names every feature above it, most drifted first. Warns.",
            )
        ],
        description=f"Population stability index of each of the {len(spec.features)} features of `{spec.name}` between "
        "the snapshot of the month and of the month before: numeric features on last month's deciles, categorical "
        "ones on its levels with one bucket for levels never seen before, NULL a bucket of its own. Kept in the "
        f"warehouse table `{DRIFT_TABLE}`.",
        metadata={"max_feature_psi": threshold},
    )
    @fail_fast_unless_transient
    def feature_drift(context: AssetExecutionContext, warehouse: Warehouse):
        month = partition_month(context)
        reason = no_previous_snapshot(warehouse, spec, month)
        if reason:
            context.log.info(f"No drift measured for {spec.name} in {month}: {reason}")
            store_drift(warehouse, spec, month, None)
            record_gates(warehouse, key, month, [])
            yield from materialized(context, key, MaterializeResult(metadata={"evaluated": False, "reason": reason}))
            return
        drift = month_drift(warehouse, spec, month)
        check = check_result(drift.gate, key, AssetCheckSeverity.WARN)
        store_drift(warehouse, spec, month, drift)
        record_gates(warehouse, key, month, [check])
        metadata = {
            "evaluated": True,
            "previous_month": str(drift.previous_month),
            "largest_psi": float(drift.drifts[0].psi) if drift.drifts else 0.0,
            "features_above_threshold": sum(d.psi > threshold for d in drift.drifts),
            "psi_by_feature": MetadataValue.md(
                "| feature | kind | PSI |\n|---|---|---|\n"
                + "\n".join(f"| {d.feature} | {d.kind} | {d.psi:.4f} |" for d in drift.drifts)
            ),
            "table": warehouse.table(DRIFT_TABLE),
        }
        yield from materialized(context, key, MaterializeResult(metadata=metadata, check_results=[check]))

    return feature_drift

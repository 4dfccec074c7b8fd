"""Drift of every feature of a model between the snapshot of a month and of the month before."""

import dagster as dg

from churn_assets.assets.common import asset_with_gates, gate, gated_result, of_model, partition_month, snapshot_key
from churn_assets.assets.retries import fail_fast_unless_transient
from churn_assets.catalog import ModelSpec
from churn_assets.checks.results import check_result
from churn_assets.drift import MonthDrift, month_drift, no_previous_snapshot, store_drift
from churn_assets.rules.drift import FEATURE_DRIFT
from churn_assets.warehouse import Warehouse
from churn_assets.warehouse.outcomes import FEATURE_DRIFT as DRIFT_TABLE


def build_feature_drift_asset(
    spec: ModelSpec, partitions_def: dg.PartitionsDefinition, kind: str
) -> dg.AssetsDefinition:
    """One per model rather than on the shared snapshot: the features and the threshold are the
    model's, so the alert names the model whose inputs moved; and the snapshot's own gate (the
    contract) blocks while drift only warns, so it never holds a month's snapshot or list back."""
    asset = of_model(spec, "feature_drift", partitions_def)
    key, threshold = asset["key"], spec.gates.max_feature_psi
    drift_gate = gate(
        key,
        FEATURE_DRIFT,
        partitions_def,
        f"No feature's PSI against last month's snapshot above {threshold} (catalogue `gates.max_feature_psi`); "
        "names every feature above it, most drifted first. Warns.",
    )

    @asset_with_gates(
        **asset,
        # Reads the snapshots of the month and of the month before, declared on the month's own:
        # snapshots form a chain (each depends on the one before), so once M's exists M-1's does,
        # and a UI backfill of some months targets those months only (a window mapping made Dagster
        # add the month after each one).
        deps=[snapshot_key(spec.source.name)],
        kinds={kind, "pandas"},
        check_specs=[drift_gate],
        description=f"Population stability index of each of the {len(spec.features)} features of `{spec.name}` between "
        "the snapshot of the month and of the month before: numeric features on last month's deciles, categorical "
        "ones on its levels with one bucket for levels never seen before, NULL a bucket of its own. Kept in the "
        f"warehouse table `{DRIFT_TABLE}`.",
        metadata={"max_feature_psi": threshold},
    )
    @fail_fast_unless_transient
    def feature_drift(context: dg.AssetExecutionContext, warehouse: Warehouse):
        month = partition_month(context)
        reason = no_previous_snapshot(warehouse, spec, month)
        if reason:
            context.log.info(f"No drift measured for {spec.name} in {month}: {reason}")
            store_drift(warehouse, spec, month, None)
            yield from gated_result(context, warehouse, key, month, {"evaluated": False, "reason": reason})
            return
        drift = month_drift(warehouse, spec, month)
        store_drift(warehouse, spec, month, drift)
        metadata = drift_metadata(drift, threshold, warehouse.table(DRIFT_TABLE))
        check = check_result(drift.gate, key, dg.AssetCheckSeverity.WARN)
        yield from gated_result(context, warehouse, key, month, metadata, [check])

    return feature_drift


def drift_metadata(drift: MonthDrift, threshold: float, table: str) -> dict:
    """What the UI shows of a month's drift: the largest PSI, how many features passed the
    threshold, and every feature's PSI, most drifted first."""
    return {
        "evaluated": True,
        "previous_month": str(drift.previous_month),
        "largest_psi": float(drift.drifts[0].psi) if drift.drifts else 0.0,
        "features_above_threshold": sum(d.psi > threshold for d in drift.drifts),
        "psi_by_feature": dg.MetadataValue.md(
            "| feature | kind | PSI |\n|---|---|---|\n"
            + "\n".join(f"| {d.feature} | {d.kind} | {d.psi:.4f} |" for d in drift.drifts)
        ),
        "table": table,
    }

"""A model's training set for a month: matured labels joined to the immutable snapshots."""

import dagster as dg

from churn_assets.assets.common import (
    column_schema,
    of_model,
    partition_month,
    snapshot_key,
    training_set_table,
)
from churn_assets.assets.retries import fail_fast_unless_transient
from churn_assets.catalog import ModelSpec
from churn_assets.rules.months import add_months
from churn_assets.training_sets import TrainingSet, build_training_set, clear_training_set, no_labelled_month_yet
from churn_assets.warehouse import Warehouse


def build_training_set_asset(
    spec: ModelSpec, partitions_def: dg.PartitionsDefinition, kind: str
) -> dg.AssetsDefinition:
    """Rows (customer, labelled month, label) a model trained at month M may learn from.

    Only months whose label window has closed by M are used (snapshot_month <= M - horizon),
    so no row's outcome was unknown at M. Features are not copied: they stay in the immutable
    snapshots and are joined by the model at training time.
    """

    @dg.asset(
        **of_model(spec, "training_set", partitions_def),
        # Training at M reads the snapshots of months M-horizon-window+1 .. M-horizon. Declared on
        # the snapshot of M itself: snapshots form a chain (each depends on the one before), so once
        # M's exists every earlier one does, and a backfill of some months targets those months only
        # (a window mapping made Dagster add every later month whose window reaches them).
        deps=[snapshot_key(spec.source.name)],
        kinds={kind, "pandas"},
        description=f"Labelled rows for training `{spec.name}` at month M: snapshot months "
        f"M-{spec.horizon_months + spec.training_window_months - 1} .. M-{spec.horizon_months} joined to "
        f"`{spec.label}` read from `{spec.source.relation or spec.source.files}` once its {spec.horizon_months}-month "
        "window closed.",
        metadata={
            "label": spec.label,
            "horizon_months": spec.horizon_months,
            "training_window_months": spec.training_window_months,
        },
    )
    @fail_fast_unless_transient
    def training_set(context: dg.AssetExecutionContext, warehouse: Warehouse):
        month = partition_month(context)
        reason = no_labelled_month_yet(warehouse, spec, month)
        if reason:
            # The first months of a history: no label window has closed yet. Materialised (empty),
            # so the model of this month, and so of the next one, runs in a backfill as in order.
            clear_training_set(warehouse, spec, month)
            context.log.info(f"Nothing to train for '{spec.name}' at {month}: {reason}")
            metadata = {"rows": 0, "dagster/row_count": 0, "labelled": False, "reason": reason}
            return dg.MaterializeResult(metadata=metadata, data_version=dg.DataVersion("no-labelled-month"))
        try:
            built = build_training_set(warehouse, spec, month)
        except ValueError as refused:  # TrainingSetRefused, or labels the catalogue cannot map
            raise dg.Failure(str(refused)) from None
        metadata = training_set_metadata(spec, built, warehouse.table(training_set_table(spec.name)))
        return dg.MaterializeResult(metadata=metadata, data_version=dg.DataVersion(built.content_hash))

    return training_set


def training_set_metadata(spec: ModelSpec, built: TrainingSet, table: str) -> dict:
    """What the UI shows of a training set: rows per labelled month, label rate, what is missing."""
    rows = built.rows
    per_month = rows.groupby("snapshot_month")["label"].size()
    return {
        "rows": len(rows),
        "dagster/row_count": len(rows),
        "labelled": True,
        "dagster/column_schema": column_schema(rows),
        "months": dg.MetadataValue.json([str(m) for m in built.months]),
        "months_missing_snapshot": dg.MetadataValue.json([str(m) for m in built.months_missing_snapshot]),
        "rows_per_month": dg.MetadataValue.json({str(k): int(v) for k, v in per_month.items()}),
        "label_rate": float(rows["label"].mean()),
        "labels_missing": built.labels_missing,
        "latest_label_window_closes": str(add_months(max(built.months), spec.horizon_months)),
        "content_hash": built.content_hash,
        "table": table,
    }

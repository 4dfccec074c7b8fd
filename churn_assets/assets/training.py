"""A model's training set for a month: matured labels joined to the immutable snapshots."""

import hashlib

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    DataVersion,
    Failure,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    asset,
)

from churn_assets import modeling
from churn_assets.assets.common import (
    column_schema,
    model_key,
    partition_month,
    snapshot_key,
    snapshot_table,
    training_set_table,
)
from churn_assets.assets.retries import WAREHOUSE_RETRY, fail_fast_unless_transient
from churn_assets.catalog import ModelSpec
from churn_assets.rules.months import add_months, training_months
from churn_assets.warehouse import Warehouse
from churn_assets.warehouse.snapshots import stored_snapshot_months


def build_training_set_asset(spec: ModelSpec, partitions_def: PartitionsDefinition, kind: str) -> AssetsDefinition:
    """Rows (customer, labelled month, label) a model trained at month M may learn from.

    Only months whose label window has closed by M are used (snapshot_month <= M - horizon),
    so no row's outcome was unknown at M. Features are not copied: they stay in the immutable
    snapshots and are joined by the model at training time.
    """

    @asset(
        key=model_key(spec.name, "training_set"),
        group_name=spec.name,
        partitions_def=partitions_def,
        retry_policy=WAREHOUSE_RETRY,
        # Training at M reads the snapshots of months M-horizon-window+1 .. M-horizon. Declared on
        # the snapshot of M itself: snapshots form a chain (each depends on the one before), so once
        # M's exists every earlier one does, and a backfill of some months targets those months only
        # (a window mapping made Dagster add every later month whose window reaches them).
        deps=[snapshot_key(spec.source.name)],
        kinds={kind, "pandas"},
        owners=list(spec.owners),
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
    def training_set(context: AssetExecutionContext, warehouse: Warehouse):
        month = partition_month(context)
        wanted = training_months(month, spec.horizon_months, spec.training_window_months)
        snapshots = stored_snapshot_months(warehouse, spec.source.name)
        available = [m for m in wanted if m in snapshots]
        if not any(m <= wanted[-1] for m in snapshots):
            # The first months of a history: no label window has closed yet. Materialised (empty),
            # so the model of this month, and so of the next one, runs in a backfill as in order.
            warehouse.replace_rows(training_set_table(spec.name), {"training_month": month}, pd.DataFrame())
            context.log.info(f"No labelled month yet for '{spec.name}' at {month}: nothing to train")
            return MaterializeResult(
                metadata={
                    "rows": 0,
                    "dagster/row_count": 0,
                    "labelled": False,
                    "reason": f"no labelled month yet: no snapshot stored on or before {wanted[-1]} (labels mature "
                    f"{spec.horizon_months} months after the snapshot)",
                },
                data_version=DataVersion("no-labelled-month"),
            )
        if not available:
            raise Failure(
                f"No labelled month to train '{spec.name}' at {month}: it needs a snapshot of at least one of "
                f"{wanted[0]} .. {wanted[-1]} (labels mature {spec.horizon_months} months after the snapshot). "
                "Materialise those months' snapshots first, or start later."
            )
        rows = warehouse.read_labels(
            warehouse.relation_for(spec.source), spec.label, snapshot_table(spec.source.name), available
        ).rename(columns={spec.label: "label"})
        try:
            rows["label"] = spec.label_as_int(rows["label"])
        except ValueError as exc:
            raise Failure(str(exc)) from None
        unmapped = int(rows["label"].isna().sum())
        rows = rows.dropna(subset=["label"])
        rows["label"] = rows["label"].astype("int8")
        rows.insert(0, "training_month", month)
        if rows.empty or rows["label"].nunique() < 2:
            raise Failure(
                f"The training set of '{spec.name}' at {month} holds {len(rows)} rows of a single class; cannot train."
            )

        per_month = rows.groupby("snapshot_month")["label"].agg(["size", "mean"])
        # The data version: which immutable snapshots, and which labels were joined.
        digest = hashlib.sha256("|".join(f"{m}:{snapshots[m]}" for m in available).encode())
        digest.update(modeling.frame_hash(rows, ["snapshot_month", "customer_id"]).encode())
        content_hash = digest.hexdigest()

        warehouse.replace_rows(training_set_table(spec.name), {"training_month": month}, rows)
        latest = max(available)
        return MaterializeResult(
            metadata={
                "rows": len(rows),
                "dagster/row_count": len(rows),
                "labelled": True,
                "dagster/column_schema": column_schema(rows),
                "months": MetadataValue.json([str(m) for m in available]),
                "months_missing_snapshot": MetadataValue.json([str(m) for m in wanted if m not in snapshots]),
                "rows_per_month": MetadataValue.json({str(k): int(v) for k, v in per_month["size"].items()}),
                "label_rate": float(rows["label"].mean()),
                "labels_missing": unmapped,
                "latest_label_window_closes": str(add_months(latest, spec.horizon_months)),
                "content_hash": content_hash,
                "table": warehouse.table(training_set_table(spec.name)),
            },
            data_version=DataVersion(content_hash),
        )

    return training_set

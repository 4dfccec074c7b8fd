"""Scores of the month's eligible customers by the champion, gated by the business rules."""


import datetime as dt

import numpy as np
import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    asset,
)

from churn_assets import modeling
from churn_assets.assets.common import PREDICTIONS, PUBLISHED, model_key, partition_month, snapshot_key, snapshot_table
from churn_assets.catalog import ModelSpec
from churn_assets.rules.lists import excluded_mask, list_size, rank_scores
from churn_assets.rules.overlap import top_k_overlap
from churn_assets.warehouse import Warehouse, registry

OVERLAP_CHECK = "top_k_overlap"


def previous_published_list(warehouse: Warehouse, model: str, month: dt.date) -> tuple[dt.date | None, np.ndarray]:
    """The latest list published for `model` before `month` (its month and customer ids)."""
    if warehouse.columns(PUBLISHED) is None:
        return None, np.array([], dtype=np.int64)
    table = warehouse.table(PUBLISHED)
    frame = warehouse.query(
        f"SELECT month, customer_id FROM {table} WHERE model = ? AND month = "
        f"(SELECT max(month) FROM {table} WHERE model = ? AND month < ?)",
        [model, model, month],
    )
    if frame.empty:
        return None, np.array([], dtype=np.int64)
    return pd.Timestamp(frame["month"].iloc[0]).date(), frame["customer_id"].to_numpy()


def build_predictions_asset(spec: ModelSpec, partitions_def: PartitionsDefinition, kind: str) -> AssetsDefinition:
    """Every eligible customer of the month scored once by the champion in force for that month."""
    key = model_key(spec.name, "predictions")
    gates = spec.gates

    @asset(
        key=key,
        group_name=spec.name,
        partitions_def=partitions_def,
        deps=[model_key(spec.name, "model"), snapshot_key(spec.source.name)],
        kinds={kind, "xgboost", "pandas"},
        owners=list(spec.owners),
        check_specs=[
            AssetCheckSpec(
                OVERLAP_CHECK,
                asset=key,
                blocking=True,
                description=f"Top-K overlap with the previous published list, over customers present in both "
                f"months, must be at least {gates.min_top_k_overlap}"
                + (f" and at most {gates.max_top_k_overlap}" if gates.max_top_k_overlap is not None else "")
                + ". Blocks publishing.",
            )
        ],
        description=f"Scores of every eligible customer of the month by the `{spec.name}` champion, with ranks. "
        "Excluded: " + (", ".join(f"{e.reason or e.column} ({e.column} = {e.equals})" for e in spec.exclusions) or "nobody") + ".",
    )
    def predictions(context: AssetExecutionContext, warehouse: Warehouse):
        month = partition_month(context)
        champion = registry.champion_for(warehouse, spec.name, month)
        if champion is None:
            raise Failure(
                f"No champion model for '{spec.name}' in force at {month}: no version has passed its quality gates yet, "
                "so nothing can be scored or published."
            )
        columns = ["customer_id"] + list(spec.features) + list(dict.fromkeys(e.column for e in spec.exclusions))
        snapshot = warehouse.query(
            f"SELECT {', '.join(dict.fromkeys(columns))} FROM {warehouse.table(snapshot_table(spec.source.name))} "
            "WHERE snapshot_month = ?",
            [month],
        )
        excluded = excluded_mask(snapshot, spec.exclusions)
        eligible = snapshot[~excluded.to_numpy()]
        context.log.info(f"Scoring {len(eligible):,} eligible customers with {spec.name} v{champion.version}")
        scores = modeling.predict(champion.artifact, modeling.feature_matrix(eligible, champion.feature_schema))
        ids = eligible["customer_id"].to_numpy()
        frame = pd.DataFrame(
            {
                "model": spec.name,
                "month": month,
                "customer_id": ids,
                "score": scores.astype("float64"),
                "rank": rank_scores(scores, ids),
                "model_version": champion.version,
            }
        )
        warehouse.replace_rows(PREDICTIONS, {"model": spec.name, "month": month}, frame)

        k = list_size(len(frame), spec.list_top_fraction)
        listed = frame.loc[frame["rank"] <= k, "customer_id"].to_numpy()
        previous_month, previous = previous_published_list(warehouse, spec.name, month)
        overlap_check = _overlap_check(spec, listed, previous, previous_month, ids)
        excluded_counts = {
            f"{rule.column} = {rule.equals}": int(excluded_mask(snapshot, [rule]).sum()) for rule in spec.exclusions
        }
        return MaterializeResult(
            metadata={
                "rows_scored": len(frame),
                "dagster/row_count": len(frame),
                "excluded": MetadataValue.json(excluded_counts),
                "list_size": k,
                "model_version": champion.version,
                "score_quantiles": MetadataValue.json(
                    {q: round(float(np.quantile(scores, q)), 4) for q in (0.1, 0.5, 0.9, 0.99)} if len(scores) else {}
                ),
                "table": warehouse.table(PREDICTIONS),
            },
            check_results=[overlap_check],
        )

    return predictions


def _overlap_check(spec: ModelSpec, listed, previous, previous_month, population) -> AssetCheckResult:
    gates = spec.gates
    if previous_month is None:
        return AssetCheckResult(
            check_name=OVERLAP_CHECK,
            passed=True,
            description="no previously published list to compare with (first month)",
            metadata={"overlap": None, "threshold_min": gates.min_top_k_overlap, "previous_month": None},
        )
    result = top_k_overlap(listed, previous, population)
    value = result.overlap
    passed = value is None or (
        value >= gates.min_top_k_overlap and (gates.max_top_k_overlap is None or value <= gates.max_top_k_overlap)
    )
    bounds = f">= {gates.min_top_k_overlap}" + (f" and <= {gates.max_top_k_overlap}" if gates.max_top_k_overlap is not None else "")
    return AssetCheckResult(
        check_name=OVERLAP_CHECK,
        passed=passed,
        severity=AssetCheckSeverity.ERROR,
        description=(
            f"overlap {value:.3f} with the list of {previous_month} (required {bounds})"
            if value is not None
            else f"none of the {result.previous_listed} customers listed in {previous_month} is still present"
        ),
        metadata={
            "overlap": value,
            "threshold_min": gates.min_top_k_overlap,
            "threshold_max": gates.max_top_k_overlap,
            "previous_month": str(previous_month),
            "previous_listed": result.previous_listed,
            "previous_listed_still_present": result.previous_listed_still_present,
            "relisted": result.relisted,
            "entering_list": result.entering,
            "leaving_list_still_present": result.leaving_still_present,
        },
    )

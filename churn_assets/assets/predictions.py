"""Scores of the month's eligible customers by the champion, gated by the business rules."""

from pathlib import Path

import numpy as np
import pandas as pd
from dagster import (
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
)

from churn_assets import plots
from churn_assets.assets.common import (
    PREDICTIONS,
    asset_with_gates,
    column_schema,
    materialized,
    model_key,
    partition_month,
    previous_month,
    snapshot_key,
)
from churn_assets.assets.retries import WAREHOUSE_RETRY, fail_fast_unless_transient
from churn_assets.catalog import ModelSpec
from churn_assets.checks.results import check_result, record_gates
from churn_assets.reports import write_report
from churn_assets.rules import gates as rules
from churn_assets.rules.lists import list_size
from churn_assets.scoring import score_month, snapshot_columns
from churn_assets.warehouse import Warehouse, registry
from churn_assets.warehouse.lists import list_in_force_month, month_predictions, score_reference
from churn_assets.warehouse.snapshots import month_features


def gate_descriptions(spec: ModelSpec) -> dict[str, str]:
    """What each business-rule gate requires, with this model's thresholds (shown in the UI)."""
    g = spec.gates
    upper = f" and at most {g.max_top_k_overlap}" if g.max_top_k_overlap is not None else ""
    return {
        rules.OVERLAP: "Share of the previous list's customers (still present) listed again: at least "
        f"{g.min_top_k_overlap}{upper}. Rank correlation with last month is reported.",
        rules.PREDICTED_RATE: f"Mean predicted probability within [{g.predicted_rate[0]}, {g.predicted_rate[1]}].",
        rules.SCORE_PSI: f"Population stability index of scores against last month's at most {g.max_psi}.",
        rules.COVERAGE: "Every eligible customer scored exactly once; no excluded customer scored or listed.",
        rules.LIST_CAPACITY: f"List size at most the retention team's capacity ({g.list_capacity:,}).",
    }


def build_predictions_asset(
    spec: ModelSpec, partitions_def: PartitionsDefinition, kind: str, reports_dir: Path
) -> AssetsDefinition:
    """Every eligible customer of the month scored once by the champion in force for that month."""
    key = model_key(spec.name, "predictions")
    descriptions = gate_descriptions(spec)

    @asset_with_gates(
        key,
        partitions_def=partitions_def,
        retry_policy=WAREHOUSE_RETRY,
        group_name=spec.name,
        # Last month's predictions and gate outcomes: the list in force and the scores to compare with.
        deps=[model_key(spec.name, "model"), snapshot_key(spec.source.name), previous_month(key)],
        kinds={kind, "xgboost", "pandas"},
        owners=list(spec.owners),
        check_specs=[
            AssetCheckSpec(
                name,
                asset=key,
                blocking=True,
                partitions_def=partitions_def,
                description=description + " Blocks publishing.",
            )
            for name, description in descriptions.items()
        ],
        description=f"Scores of every eligible customer of the month by the `{spec.name}` champion, with ranks. "
        "Excluded: "
        + (", ".join(f"{e.reason or e.column} ({e.column} = {e.equals})" for e in spec.exclusions) or "nobody")
        + ".",
    )
    @fail_fast_unless_transient
    def predictions(context: AssetExecutionContext, warehouse: Warehouse):
        month = partition_month(context)
        champion = registry.champion_for(warehouse, spec.name, month)
        if champion is None:
            # Nothing to score: the month materialises empty (so the next month runs) and its gates
            # are not evaluated: there is no list to judge, and none is published.
            reason = (
                f"no champion model for '{spec.name}' in force at {month}: no version has passed its quality "
                "gates yet, so nothing is scored or published"
            )
            context.log.warning(reason)
            warehouse.replace_rows(PREDICTIONS, {"model": spec.name, "month": month}, pd.DataFrame())
            record_gates(warehouse, key, month, [])
            yield from materialized(
                context, key, MaterializeResult(metadata={"rows_scored": 0, "model_version": None, "reason": reason})
            )
            return
        snapshot = month_features(warehouse, spec.source.name, month, snapshot_columns(spec))
        context.log.info(f"Scoring the eligible customers of {month} with {spec.name} v{champion.version}")
        scored = score_month(spec, month, snapshot, champion)
        frame, ids = scored.frame, scored.eligible_ids
        scores = frame["score"].to_numpy()
        warehouse.replace_rows(PREDICTIONS, {"model": spec.name, "month": month}, frame)

        # The gates read back what was stored, so they judge exactly what would be published.
        current = month_predictions(warehouse, spec.name, month)
        in_force_month = list_in_force_month(warehouse, spec.name, month)
        in_force = month_predictions(warehouse, spec.name, in_force_month) if in_force_month else None
        results = rules.business_gates(
            spec.gates,
            spec.list_top_fraction,
            current,
            in_force,
            eligible_ids=ids,
            excluded_ids=scored.excluded_ids,
            psi_reference=score_reference(warehouse, spec.name, month, in_force),
        )
        for gate in results:
            (context.log.info if gate.passed else context.log.error)(
                f"gate {gate.name}: {'passed' if gate.passed else 'FAILED'}: {gate.summary}"
            )
        checks = [check_result(gate, key) for gate in results]
        record_gates(warehouse, key, month, checks)
        if not all(gate.passed for gate in results):
            # The report asset will not run (blocked); stakeholders still get the month's page.
            written = write_report(warehouse, spec, month, reports_dir)
            context.log.info(f"NOT PUBLISHED page written to {written.html}")
        result = MaterializeResult(
            metadata={
                "rows_scored": len(frame),
                "list_in_force_before": str(in_force_month) if in_force_month else None,
                "dagster/row_count": len(frame),
                "dagster/column_schema": column_schema(frame),
                "excluded": MetadataValue.json(scored.excluded_by_rule),
                "list_size": list_size(len(frame), spec.list_top_fraction),
                "model_version": champion.version,
                "score_histogram": MetadataValue.md(plots.score_histogram(scores, f"{spec.name} scores, {month}"))
                if len(scores)
                else "no scores",
                "score_quantiles": MetadataValue.json(
                    {str(q): round(float(np.quantile(scores, q)), 4) for q in (0.1, 0.5, 0.9, 0.99)}
                    if len(scores)
                    else {}
                ),
                "table": warehouse.table(PREDICTIONS),
            },
            check_results=checks,
        )
        yield from materialized(context, key, result)

    return predictions

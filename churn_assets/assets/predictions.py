"""Scores of the month's eligible customers by the champion, gated by the business rules."""

from pathlib import Path

import numpy as np
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
from churn_assets.predicting import JudgedMonth, no_champion_reason, predict_month
from churn_assets.reports import write_report
from churn_assets.rules import gates as rules
from churn_assets.rules.lists import list_size
from churn_assets.warehouse import Warehouse


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
        judged = predict_month(warehouse, spec, month, log=context.log.info)
        if judged is None:
            # Nothing to score: the month materialises empty (so the next month runs) and its gates
            # are not evaluated: there is no list to judge, and none is published.
            reason = no_champion_reason(spec.name, month)
            context.log.warning(reason)
            record_gates(warehouse, key, month, [])
            result = MaterializeResult(metadata={"rows_scored": 0, "model_version": None, "reason": reason})
            yield from materialized(context, key, result)
            return
        for gate in judged.gates:
            (context.log.info if gate.passed else context.log.error)(
                f"gate {gate.name}: {'passed' if gate.passed else 'FAILED'}: {gate.summary}"
            )
        checks = [check_result(gate, key) for gate in judged.gates]
        record_gates(warehouse, key, month, checks)
        if not judged.passed:
            # The report asset will not run (blocked); stakeholders still get the month's page.
            context.log.info(f"NOT PUBLISHED page written to {write_report(warehouse, spec, month, reports_dir).html}")
        metadata = predictions_metadata(spec, month, judged, warehouse.table(PREDICTIONS))
        yield from materialized(context, key, MaterializeResult(metadata=metadata, check_results=checks))

    return predictions


def predictions_metadata(spec: ModelSpec, month, judged: JudgedMonth, table: str) -> dict:
    """What the UI shows of a scored month: sizes, the list in force it was judged against, the
    score distribution."""
    frame, scores = judged.scored.frame, judged.scored.frame["score"].to_numpy()
    return {
        "rows_scored": len(frame),
        "list_in_force_before": str(judged.in_force_month) if judged.in_force_month else None,
        "dagster/row_count": len(frame),
        "dagster/column_schema": column_schema(frame),
        "excluded": MetadataValue.json(judged.scored.excluded_by_rule),
        "list_size": list_size(len(frame), spec.list_top_fraction),
        "model_version": judged.champion_version,
        "score_histogram": MetadataValue.md(plots.score_histogram(scores, f"{spec.name} scores, {month}"))
        if len(scores)
        else "no scores",
        "score_quantiles": MetadataValue.json(
            {str(q): round(float(np.quantile(scores, q)), 4) for q in (0.1, 0.5, 0.9, 0.99)} if len(scores) else {}
        ),
        "table": table,
    }

"""Scores of the month's eligible customers by the champion, gated by the business rules."""

from pathlib import Path

import dagster as dg
import numpy as np

from churn_assets import plots
from churn_assets.assets.common import (
    PREDICTIONS,
    asset_with_gates,
    column_schema,
    gate,
    gated_result,
    materialized,
    model_key,
    of_model,
    partition_month,
    previous_month,
    snapshot_key,
    write_not_published_pages,
)
from churn_assets.assets.retries import fail_fast_unless_transient
from churn_assets.catalog import ModelSpec
from churn_assets.checks.results import check_result, record_gates
from churn_assets.predicting import JudgedMonth, no_champion_reason, predict_month
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
    spec: ModelSpec, partitions_def: dg.PartitionsDefinition, kind: str, reports_dir: Path
) -> dg.AssetsDefinition:
    """Every eligible customer of the month scored once by the champion in force for that month."""
    asset = of_model(spec, "predictions", partitions_def)
    key = asset["key"]
    excluded = ", ".join(f"{e.reason or e.column} ({e.column} = {e.equals})" for e in spec.exclusions) or "nobody"

    @asset_with_gates(
        **asset,
        # Last month's predictions and gate outcomes: the list in force and the scores to compare with.
        deps=[model_key(spec.name, "model"), snapshot_key(spec.source.name), previous_month(key)],
        kinds={kind, "xgboost", "pandas"},
        check_specs=[
            gate(key, name, partitions_def, description + " Blocks publishing.", blocking=True)
            for name, description in gate_descriptions(spec).items()
        ],
        description=f"Scores of every eligible customer of the month by the `{spec.name}` champion, with ranks. "
        f"Excluded: {excluded}.",
    )
    @fail_fast_unless_transient
    def predictions(context: dg.AssetExecutionContext, warehouse: Warehouse):
        month = partition_month(context)
        judged = predict_month(warehouse, spec, month, log=context.log.info)
        if judged is None:
            # Nothing to score: the month materialises empty (so the next month runs) and its gates
            # are not evaluated: there is no list to judge, and none is published.
            reason = no_champion_reason(spec.name, month)
            context.log.warning(reason)
            metadata = {"rows_scored": 0, "model_version": None, "reason": reason}
            yield from gated_result(context, warehouse, key, month, metadata)
            return
        for one in judged.gates:
            (context.log.info if one.passed else context.log.error)(
                f"gate {one.name}: {'passed' if one.passed else 'FAILED'}: {one.summary}"
            )
        checks = [check_result(one, key) for one in judged.gates]
        metadata = predictions_metadata(spec, month, judged, warehouse.table(PREDICTIONS))
        if judged.passed:
            yield from gated_result(context, warehouse, key, month, metadata, checks)
            return
        # Blocked: the NOT PUBLISHED page shows the gates, so they are recorded first.
        record_gates(warehouse, key, month, checks)
        write_not_published_pages(context, warehouse, [spec], month, reports_dir)
        yield from materialized(context, key, dg.MaterializeResult(metadata=metadata, check_results=checks))

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
        "excluded": dg.MetadataValue.json(judged.scored.excluded_by_rule),
        "list_size": list_size(len(frame), spec.list_top_fraction),
        "model_version": judged.champion_version,
        "score_histogram": dg.MetadataValue.md(plots.score_histogram(scores, f"{spec.name} scores, {month}"))
        if len(scores)
        else "no scores",
        "score_quantiles": dg.MetadataValue.json(
            {str(q): round(float(np.quantile(scores, q)), 4) for q in (0.1, 0.5, 0.9, 0.99)} if len(scores) else {}
        ),
        "table": table,
    }

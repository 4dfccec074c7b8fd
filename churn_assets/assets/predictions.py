"""Scores of the month's eligible customers by the champion, gated by the business rules."""

import datetime as dt

import numpy as np
import pandas as pd
from dagster import (
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    asset,
)

from churn_assets import modeling, plots
from churn_assets.assets.common import (
    PREDICTIONS,
    PUBLISHED,
    column_schema,
    model_key,
    partition_month,
    snapshot_key,
    snapshot_table,
)
from churn_assets.assets.retries import WAREHOUSE_RETRY, fail_fast_unless_transient
from churn_assets.catalog import ModelSpec
from churn_assets.checks.results import check_result, record_gates
from churn_assets.rules import gates as rules
from churn_assets.rules.lists import excluded_mask, list_size, rank_scores
from churn_assets.rules.months import add_months
from churn_assets.warehouse import Warehouse, registry


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


def load_month_predictions(
    warehouse: Warehouse, model: str, month: dt.date, with_published: bool = False
) -> rules.MonthPredictions:
    """A month's stored predictions (and its published list, if asked) as plain arrays."""
    frame = warehouse.read_features(
        f"SELECT customer_id, score, rank, model_version FROM {warehouse.table(PREDICTIONS)} "
        "WHERE model = ? AND month = ?",
        [model, month],
    )
    published = None
    if with_published:
        published = warehouse.query(
            f"SELECT customer_id FROM {warehouse.table(PUBLISHED)} WHERE model = ? AND month = ?", [model, month]
        )["customer_id"].to_numpy()
    return rules.MonthPredictions(
        ids=frame["customer_id"].to_numpy(),
        scores=frame["score"].to_numpy(dtype=float),
        ranks=frame["rank"].to_numpy(),
        month=month,
        model_version=int(frame["model_version"].iloc[0]) if len(frame) else None,
        published_ids=published,
    )


def previous_published_month(warehouse: Warehouse, model: str, month: dt.date) -> dt.date | None:
    """The latest month before `month` whose list was published for `model`."""
    if warehouse.columns(PUBLISHED) is None:
        return None
    value = warehouse.query(
        f"SELECT max(month) AS m FROM {warehouse.table(PUBLISHED)} WHERE model = ? AND month < ?", [model, month]
    )["m"].iloc[0]
    return None if pd.isna(value) else pd.Timestamp(value).date()


def score_reference(
    warehouse: Warehouse, model: str, month: dt.date, previous: rules.MonthPredictions | None
) -> rules.MonthPredictions | None:
    """The scores to judge stability against: the month just before (published or not), else the
    last published month. A stale reference would let one blocked month block every later one."""
    last_month = add_months(month, -1)
    if previous is None or previous.month == last_month:
        return previous
    before = load_month_predictions(warehouse, model, last_month)
    return before if len(before.ids) else previous


def build_predictions_asset(spec: ModelSpec, partitions_def: PartitionsDefinition, kind: str) -> AssetsDefinition:
    """Every eligible customer of the month scored once by the champion in force for that month."""
    key = model_key(spec.name, "predictions")
    descriptions = gate_descriptions(spec)

    @asset(
        key=key,
        group_name=spec.name,
        partitions_def=partitions_def,
        retry_policy=WAREHOUSE_RETRY,
        deps=[model_key(spec.name, "model"), snapshot_key(spec.source.name)],
        kinds={kind, "xgboost", "pandas"},
        owners=list(spec.owners),
        check_specs=[
            AssetCheckSpec(name, asset=key, blocking=True, description=description + " Blocks publishing.")
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
            raise Failure(
                f"No champion model for '{spec.name}' in force at {month}: no version has passed its quality "
                "gates yet, so nothing can be scored or published."
            )
        columns = list(dict.fromkeys(["customer_id", *spec.features, *(e.column for e in spec.exclusions)]))
        snapshot = warehouse.read_features(
            f"SELECT {', '.join(columns)} FROM {warehouse.table(snapshot_table(spec.source.name))} "
            "WHERE snapshot_month = ?",
            [month],
        )
        # One mask per rule (their counts are reported), combined for scoring.
        rule_masks = {f"{r.column} = {r.equals}": excluded_mask(snapshot, [r]).to_numpy() for r in spec.exclusions}
        excluded = np.logical_or.reduce([*rule_masks.values(), np.zeros(len(snapshot), dtype=bool)])
        context.log.info(f"Scoring {(~excluded).sum():,} eligible customers with {spec.name} v{champion.version}")
        scores = modeling.score(champion.artifact, snapshot, champion.feature_schema, rows=~excluded)
        ids = snapshot["customer_id"].to_numpy()[~excluded]
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

        # The gates read back what was stored, so they judge exactly what would be published.
        current = load_month_predictions(warehouse, spec.name, month)
        previous_month = previous_published_month(warehouse, spec.name, month)
        previous = (
            load_month_predictions(warehouse, spec.name, previous_month, with_published=True)
            if previous_month
            else None
        )
        results = rules.business_gates(
            spec.gates,
            spec.list_top_fraction,
            current,
            previous,
            eligible_ids=ids,
            excluded_ids=snapshot["customer_id"].to_numpy()[excluded],
            psi_reference=score_reference(warehouse, spec.name, month, previous),
        )
        for gate in results:
            (context.log.info if gate.passed else context.log.error)(
                f"gate {gate.name}: {'passed' if gate.passed else 'FAILED'}: {gate.summary}"
            )
        checks = [check_result(gate, key) for gate in results]
        record_gates(warehouse, key, month, checks)
        excluded_counts = {rule: int(mask.sum()) for rule, mask in rule_masks.items()}
        return MaterializeResult(
            metadata={
                "rows_scored": len(frame),
                "dagster/row_count": len(frame),
                "dagster/column_schema": column_schema(frame),
                "excluded": MetadataValue.json(excluded_counts),
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

    return predictions

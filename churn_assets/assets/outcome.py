"""The realised outcome of a published list, judged once its labels have matured in the source."""

from dagster import (
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetDep,
    AssetExecutionContext,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    TimeWindowPartitionMapping,
)

from churn_assets import plots
from churn_assets.assets.common import asset_with_gates, materialized, model_key, partition_month
from churn_assets.assets.retries import WAREHOUSE_RETRY, fail_fast_unless_transient
from churn_assets.catalog import ModelSpec
from churn_assets.checks.results import check_result, record_gates
from churn_assets.outcomes import (
    JudgedList,
    judge_list,
    judged_month,
    left_unjudged,
    nothing_to_judge,
    store_outcome,
)
from churn_assets.rules.outcomes import REALISED_LIFT, one_verdict
from churn_assets.warehouse import Warehouse
from churn_assets.warehouse.outcomes import LIST_OUTCOMES, outcome_history


def horizon_before(key, horizon: int) -> AssetDep:
    """A dependency on `key`'s month `horizon` months before this one (none before the first)."""
    return AssetDep(
        key,
        partition_mapping=TimeWindowPartitionMapping(
            start_offset=-horizon, end_offset=-horizon, allow_nonexistent_upstream_partitions=True
        ),
    )


def build_list_outcome_asset(spec: ModelSpec, partitions_def: PartitionsDefinition, kind: str) -> AssetsDefinition:
    """Partition E judges the list of month E - horizon: keyed by the month of evaluation, so the run
    of month E materialises it with every other asset of E (one partition key per run), and the
    UI's partition E is what was learned in E. Lineage shows the list it judges: the published list
    and the predictions of E - horizon."""
    key = model_key(spec.name, "list_outcome")
    horizon, threshold = spec.horizon_months, spec.gates.min_realised_lift

    @asset_with_gates(
        key,
        partitions_def=partitions_def,
        retry_policy=WAREHOUSE_RETRY,
        group_name=spec.name,
        deps=[
            horizon_before(model_key(spec.name, "published_predictions"), horizon),
            horizon_before(model_key(spec.name, "predictions"), horizon),
        ],
        kinds={kind, "scikit-learn"},
        owners=list(spec.owners),
        check_specs=[
            AssetCheckSpec(
                REALISED_LIFT,
                asset=key,
                partitions_def=partitions_def,
                description=f"The list of {horizon} month(s) before found at least {threshold}x as many customers "
                f"with `{spec.label}` as the base rate among every scored customer (catalogue "
                "`gates.min_realised_lift`). Warns: that list was sent long ago; the alert names its month and model "
                "version.",
            )
        ],
        description=(
            f"Did the `{spec.name}` list of {horizon} month(s) before work? Partition E judges the list in force "
            f"during month E-{horizon} (published then, or still in force when that month was blocked) with "
            f"`{spec.label}` read from `{spec.source.relation or spec.source.files}` once its {horizon}-month window "
            "closed: customers listed, how many had the label, precision, base rate among every scored customer, "
            f"lift, recall, realised ROC AUC. Kept in the warehouse table `{LIST_OUTCOMES}`."
        ),
        metadata={"horizon_months": horizon, "min_realised_lift": threshold},
    )
    @fail_fast_unless_transient
    def list_outcome(context: AssetExecutionContext, warehouse: Warehouse):
        month = partition_month(context)
        # Lists left unjudged by a blocked month's run first, then the list of the horizon before.
        earlier = left_unjudged(warehouse, spec, month)
        reason = nothing_to_judge(warehouse, spec, month)
        judged = judge_list(warehouse, spec, month) if reason is None else reason
        if isinstance(judged, str):
            # No list, or its labels have not matured in the source: not judged (nor is its gate).
            context.log.info(f"No list outcome for {spec.name} in {month}: {judged}")
            store_outcome(warehouse, spec, month, None)
        lists = earlier + ([] if isinstance(judged, str) else [judged])
        if not lists:
            record_gates(warehouse, key, month, [])
            metadata = {"judged_month": str(judged_month(spec, month)), "evaluated": False, "reason": judged}
            yield from materialized(context, key, MaterializeResult(metadata=metadata))
            return
        for one in lists:
            store_outcome(warehouse, spec, month, one)
        check = check_result(one_verdict([one.gate for one in lists]), key, AssetCheckSeverity.WARN)
        record_gates(warehouse, key, month, [check])
        history = outcome_history(warehouse, spec.name)
        metadata = outcome_metadata(lists, history, threshold, warehouse.table(LIST_OUTCOMES))
        yield from materialized(context, key, MaterializeResult(metadata=metadata, check_results=[check]))

    return list_outcome


def outcome_metadata(lists: list[JudgedList], history, threshold: float, table: str) -> dict:
    """The figures of the list of the horizon before, else of the latest judged (numbers: the UI plots
    each over partitions), which lists this run judged, and the lift of every list judged so far as
    a chart."""
    judged = lists[-1]
    figures = {k: v for k, v in judged.outcome.as_dict().items() if v is not None}
    return {
        "evaluated": True,
        "judged_month": str(judged.month),
        "list_month": str(judged.list_month),
        "lists_judged": MetadataValue.json([str(one.month) for one in lists]),
        "model_version": judged.model_version,
        **figures,
        "lift_over_months": MetadataValue.md(plots.lift_over_time(history, threshold)),
        "table": table,
    }

"""The realised outcome of a published list, judged once its labels have matured in the source."""

import dagster as dg

from churn_assets import plots
from churn_assets.assets.common import (
    asset_with_gates,
    gate,
    gated_result,
    model_key,
    months_before,
    of_model,
    partition_month,
)
from churn_assets.assets.retries import fail_fast_unless_transient
from churn_assets.catalog import ModelSpec
from churn_assets.checks.results import check_result
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


def build_list_outcome_asset(
    spec: ModelSpec, partitions_def: dg.PartitionsDefinition, kind: str
) -> dg.AssetsDefinition:
    """Partition E judges the list of month E - horizon: keyed by the month of evaluation, so the run
    of month E materialises it with every other asset of E (one partition key per run), and the
    UI's partition E is what was learned in E. Lineage shows the list it judges: the published list
    and the predictions of E - horizon."""
    asset = of_model(spec, "list_outcome", partitions_def)
    key, horizon, threshold = asset["key"], spec.horizon_months, spec.gates.min_realised_lift
    lift_gate = gate(
        key,
        REALISED_LIFT,
        partitions_def,
        f"The list of {horizon} month(s) before found at least {threshold}x as many customers with `{spec.label}` "
        "as the base rate among every scored customer (catalogue `gates.min_realised_lift`). Warns: that list was "
        "sent long ago; the alert names its month and model version.",
    )

    @asset_with_gates(
        **asset,
        deps=[
            months_before(model_key(spec.name, "published_predictions"), horizon),
            months_before(model_key(spec.name, "predictions"), horizon),
        ],
        kinds={kind, "scikit-learn"},
        check_specs=[lift_gate],
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
    def list_outcome(context: dg.AssetExecutionContext, warehouse: Warehouse):
        month = partition_month(context)
        lists = lists_to_judge(warehouse, spec, month, log=context.log.info)
        if isinstance(lists, str):
            metadata = {"judged_month": str(judged_month(spec, month)), "evaluated": False, "reason": lists}
            yield from gated_result(context, warehouse, key, month, metadata)
            return
        for one in lists:
            store_outcome(warehouse, spec, month, one)
        check = check_result(one_verdict([one.gate for one in lists]), key, dg.AssetCheckSeverity.WARN)
        history = outcome_history(warehouse, spec.name)
        metadata = outcome_metadata(lists, history, threshold, warehouse.table(LIST_OUTCOMES))
        yield from gated_result(context, warehouse, key, month, metadata, [check])

    return list_outcome


def lists_to_judge(warehouse: Warehouse, spec: ModelSpec, month, log) -> list[JudgedList] | str:
    """The lists month E judges: those a blocked month's run left unjudged, then the list of the
    horizon before, if it exists and its labels have matured (else why not, stored as not judged).
    The reason why nothing is judged when there is nothing."""
    earlier = left_unjudged(warehouse, spec, month)
    reason = nothing_to_judge(warehouse, spec, month)
    judged = judge_list(warehouse, spec, month) if reason is None else reason
    if isinstance(judged, str):
        # No list, or its labels have not matured in the source: not judged (nor is its gate).
        log(f"No list outcome for {spec.name} in {month}: {judged}")
        store_outcome(warehouse, spec, month, None)
    lists = earlier + ([] if isinstance(judged, str) else [judged])
    return lists or judged


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
        "lists_judged": dg.MetadataValue.json([str(one.month) for one in lists]),
        "model_version": judged.model_version,
        **figures,
        "lift_over_months": dg.MetadataValue.md(plots.lift_over_time(history, threshold)),
        "table": table,
    }

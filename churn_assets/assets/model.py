"""A model trained at month M, evaluated on a time-based holdout and recorded in the registry."""

import dagster as dg

from churn_assets import plots
from churn_assets.assets.common import (
    asset_with_gates,
    gate,
    gated_result,
    model_key,
    of_model,
    partition_month,
    previous_month,
)
from churn_assets.assets.retries import fail_fast_unless_transient
from churn_assets.catalog import ModelSpec
from churn_assets.checks.results import check_result
from churn_assets.code_version import model_code_version
from churn_assets.model_month import (
    CHAMPION_CHECK,
    QUALITY_CHECK,
    MonthModel,
    champion_stays,
    model_for_month,
    quality_gates,
)
from churn_assets.warehouse import Warehouse


def build_model_asset(spec: ModelSpec, partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """The model version for a month: trained once per distinct input, promoted if it passes its gates."""
    asset = of_model(spec, "model", partitions_def)
    key, g = asset["key"], spec.gates

    @asset_with_gates(
        **asset,
        # The champion in force comes from the previous month's promotion decision.
        deps=[model_key(spec.name, "training_set"), previous_month(key)],
        kinds={"xgboost", "pandas"},
        code_version=model_code_version(),
        # Quality gates warn and never block: a failed challenger is simply not promoted and the
        # champion keeps producing the monthly list (alerts pick up the failed check).
        check_specs=[
            gate(
                key,
                QUALITY_CHECK,
                partitions_def,
                f"Holdout ROC AUC >= {g.min_auc} and PR AUC >= {g.min_pr_auc}. A version that fails is not promoted.",
            ),
            gate(
                key,
                CHAMPION_CHECK,
                partitions_def,
                "Holdout AUC not below the current champion's on the same holdout by more than "
                f"{g.max_auc_drop_vs_champion}. A version that fails is not promoted.",
            ),
        ],
        description=f"XGBoost classifier for `{spec.label}`, trained on the month's training set, evaluated on "
        "the latest labelled month and registered as a version in the warehouse registry.",
        metadata={
            "params": dg.MetadataValue.json(spec.params),
            "seed": spec.seed,
            "features": dg.MetadataValue.json(list(spec.features)),
        },
    )
    @fail_fast_unless_transient
    def model(context: dg.AssetExecutionContext, warehouse: Warehouse):
        month = partition_month(context)
        trained = model_for_month(warehouse, spec, month, log=context.log.info)
        if trained is None:
            # No label window has closed yet (the training set says so): no version, no champion.
            metadata = {"version": None, "trained": False, "reason": "no labelled month yet: nothing to train"}
            yield from gated_result(context, warehouse, key, month, metadata, data_version=NO_MODEL)
            return
        if not trained.verdict.promotion.promoted:
            context.log.warning(
                f"{spec.name} v{trained.version.version} not promoted; {champion_stays(trained.verdict)}"
            )
        gates = quality_gates(spec, trained.version, trained.verdict)
        checks = [check_result(one, key, dg.AssetCheckSeverity.WARN) for one in gates]
        version = dg.DataVersion(trained.version.artifact_sha256)
        yield from gated_result(context, warehouse, key, month, model_metadata(trained), checks, data_version=version)

    return model


NO_MODEL = dg.DataVersion("no-model")


def model_metadata(trained: MonthModel) -> dict:
    """What the UI shows of a month's version: its metrics, plots and the promotion decision."""
    metrics = trained.version.metrics
    importance = metrics.get("feature_importance", {})
    return {
        **plots.model_plots(metrics, importance),
        "version": trained.version.version,
        "trained": True,
        "reused_existing_version": trained.reused,
        "promoted": trained.verdict.promotion.promoted,
        "champion_version": trained.champion.version if trained.champion else None,
        "auc": metrics["auc"],
        "pr_auc": metrics["pr_auc"],
        "top_decile_lift": metrics["top_decile_lift"],
        "holdout": metrics["split"],
        "training_rows": metrics["training_rows"],
        "artifact_sha256": trained.version.artifact_sha256,
        "feature_importance": dg.MetadataValue.json(dict(sorted(importance.items(), key=lambda kv: -kv[1])[:10])),
    }

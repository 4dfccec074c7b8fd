"""A model trained at month M, evaluated on a time-based holdout and recorded in the registry."""

from dagster import (
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
)

from churn_assets import plots
from churn_assets.assets.common import (
    asset_with_gates,
    materialized,
    model_key,
    partition_month,
    previous_month,
)
from churn_assets.assets.retries import WAREHOUSE_RETRY, fail_fast_unless_transient
from churn_assets.catalog import ModelSpec
from churn_assets.checks.results import check_result, record_gates
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


def build_model_asset(spec: ModelSpec, partitions_def: PartitionsDefinition) -> AssetsDefinition:
    """The model version for a month: trained once per distinct input, promoted if it passes its gates."""
    key = model_key(spec.name, "model")

    @asset_with_gates(
        key,
        partitions_def=partitions_def,
        retry_policy=WAREHOUSE_RETRY,
        group_name=spec.name,
        # The champion in force comes from the previous month's promotion decision.
        deps=[model_key(spec.name, "training_set"), previous_month(key)],
        kinds={"xgboost", "pandas"},
        owners=list(spec.owners),
        code_version=model_code_version(),
        # Quality gates warn and never block: a failed challenger is simply not promoted and the
        # champion keeps producing the monthly list (alerts pick up the failed check).
        check_specs=[
            AssetCheckSpec(
                QUALITY_CHECK,
                asset=key,
                partitions_def=partitions_def,  # each evaluation belongs to its month in the UI
                description=f"Holdout ROC AUC >= {spec.gates.min_auc} and PR AUC >= {spec.gates.min_pr_auc}. "
                "A version that fails is not promoted.",
            ),
            AssetCheckSpec(
                CHAMPION_CHECK,
                asset=key,
                partitions_def=partitions_def,  # each evaluation belongs to its month in the UI
                description=f"Holdout AUC not below the current champion's on the same holdout by more than "
                f"{spec.gates.max_auc_drop_vs_champion}. A version that fails is not promoted.",
            ),
        ],
        description=f"XGBoost classifier for `{spec.label}`, trained on the month's training set, evaluated on "
        "the latest labelled month and registered as a version in the warehouse registry.",
        metadata={
            "params": MetadataValue.json(spec.params),
            "seed": spec.seed,
            "features": MetadataValue.json(list(spec.features)),
        },
    )
    @fail_fast_unless_transient
    def model(context: AssetExecutionContext, warehouse: Warehouse):
        month = partition_month(context)
        trained = model_for_month(warehouse, spec, month, log=context.log.info)
        if trained is None:
            # No label window has closed yet (the training set says so): no version, no champion.
            metadata = {"version": None, "trained": False, "reason": "no labelled month yet: nothing to train"}
            yield from materialized(context, key, MaterializeResult(metadata=metadata, data_version=NO_MODEL))
            return
        if not trained.verdict.promotion.promoted:
            context.log.warning(
                f"{spec.name} v{trained.version.version} not promoted; {champion_stays(trained.verdict)}"
            )
        gates = quality_gates(spec, trained.version, trained.verdict)
        checks = [check_result(gate, key, AssetCheckSeverity.WARN) for gate in gates]
        record_gates(warehouse, key, month, checks)
        result = MaterializeResult(
            metadata=model_metadata(trained),
            check_results=checks,
            data_version=DataVersion(trained.version.artifact_sha256),
        )
        yield from materialized(context, key, result)

    return model


NO_MODEL = DataVersion("no-model")


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
        "feature_importance": MetadataValue.json(dict(sorted(importance.items(), key=lambda kv: -kv[1])[:10])),
    }

"""A model trained at month M, evaluated on a time-based holdout and recorded in the registry."""

from dagster import (
    AssetCheckResult,
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
from churn_assets.checks.results import record_gates
from churn_assets.code_version import model_code_version
from churn_assets.model_versions import Verdict, judge, split_holdout, train_or_reuse
from churn_assets.warehouse import Warehouse, registry
from churn_assets.warehouse.snapshots import training_frame

QUALITY_CHECK = "holdout_auc"
CHAMPION_CHECK = "not_worse_than_champion"


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
        frame = training_frame(warehouse, spec, month)
        if frame.empty:
            # No label window has closed yet (the training set says so): no version, no champion.
            yield from materialized(
                context,
                key,
                MaterializeResult(
                    metadata={"version": None, "trained": False, "reason": "no labelled month yet: nothing to train"},
                    data_version=DataVersion("no-model"),
                ),
            )
            return
        holdout, split = split_holdout(frame, spec.seed)
        version, reused = train_or_reuse(warehouse, spec, month, frame, holdout, split, context.log.info)
        verdict = judge(warehouse, spec, month, version, frame, holdout)
        if not verdict.promotion.promoted:
            context.log.warning(f"{spec.name} v{version.version} not promoted; {champion_stays(verdict)}")
        champion = registry.champion_for(warehouse, spec.name, month)
        checks = quality_checks(spec, version, verdict)
        record_gates(warehouse, key, month, checks)
        metrics = version.metrics
        importance = metrics.get("feature_importance", {})
        yield from materialized(
            context,
            key,
            MaterializeResult(
                metadata={
                    **plots.model_plots(metrics, importance),
                    "version": version.version,
                    "trained": True,
                    "reused_existing_version": reused,
                    "promoted": verdict.promotion.promoted,
                    "champion_version": champion.version if champion else None,
                    "auc": metrics["auc"],
                    "pr_auc": metrics["pr_auc"],
                    "top_decile_lift": metrics["top_decile_lift"],
                    "holdout": metrics["split"],
                    "training_rows": metrics["training_rows"],
                    "artifact_sha256": version.artifact_sha256,
                    "feature_importance": MetadataValue.json(
                        dict(sorted(importance.items(), key=lambda kv: -kv[1])[:10])
                    ),
                },
                check_results=checks,
                data_version=DataVersion(version.artifact_sha256),
            ),
        )

    return model


def champion_stays(verdict: Verdict) -> str:
    incumbent = verdict.incumbent
    return f"champion stays {'v' + str(incumbent.version) if incumbent else 'none (nothing will be published)'}"


def quality_checks(spec: ModelSpec, version, verdict: Verdict) -> list[AssetCheckResult]:
    """The two quality gates of a version, as the UI shows them (they warn; they never block)."""
    gates, metrics, promotion = spec.gates, version.metrics, verdict.promotion
    stays = champion_stays(verdict)
    incumbent, incumbent_auc, positives = verdict.incumbent, verdict.incumbent_auc, verdict.holdout_positives
    return [
        AssetCheckResult(
            check_name=QUALITY_CHECK,
            passed=promotion.quality_ok,
            severity=AssetCheckSeverity.WARN,
            description=(
                f"holdout AUC {metrics['auc']:.3f} (floor {gates.min_auc}), "
                f"PR AUC {metrics['pr_auc']:.3f} (floor {gates.min_pr_auc})"
                if promotion.enough_positives
                else f"not judged: the holdout holds {positives} positive labels, fewer than "
                f"min_holdout_positives {gates.min_holdout_positives} (AUC {metrics['auc']:.3f} on so few means "
                "little)"
            )
            + ("" if promotion.quality_ok else f"; not promoted, {stays}"),
            metadata={
                "value": metrics["auc"],
                "threshold": gates.min_auc,
                "pr_auc": metrics["pr_auc"],
                "pr_auc_threshold": gates.min_pr_auc,
                "holdout_positives": positives,
                "min_holdout_positives": gates.min_holdout_positives,
                "version": version.version,
            },
        ),
        AssetCheckResult(
            check_name=CHAMPION_CHECK,
            passed=promotion.not_worse,
            severity=AssetCheckSeverity.WARN,
            description=(
                "no other champion to compare with"
                if incumbent_auc is None
                else f"AUC {metrics['auc']:.3f} vs champion v{incumbent.version} {incumbent_auc:.3f} on the "
                f"same holdout (tolerated drop {gates.max_auc_drop_vs_champion})"
                + ("" if promotion.not_worse else f"; not promoted, {stays}")
            ),
            metadata={
                "value": metrics["auc"],
                "champion_auc": incumbent_auc,
                "champion_version": incumbent.version if incumbent else None,
                "threshold": (incumbent_auc - gates.max_auc_drop_vs_champion) if incumbent_auc is not None else None,
            },
        ),
    ]

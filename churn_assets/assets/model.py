"""A model trained at month M, evaluated on a time-based holdout and recorded in the registry."""

import hashlib
import json

import numpy as np
import pandas as pd
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
    asset,
)

from churn_assets import modeling, plots
from churn_assets.assets.common import model_key, partition_month, snapshot_table, training_set_table
from churn_assets.assets.retries import WAREHOUSE_RETRY, fail_fast_unless_transient
from churn_assets.catalog import ModelSpec
from churn_assets.checks.results import record_gates
from churn_assets.code_version import model_code_version
from churn_assets.rules.months import add_months
from churn_assets.warehouse import Warehouse, registry
from churn_assets.warehouse.base import take_rows

QUALITY_CHECK = "holdout_auc"
CHAMPION_CHECK = "not_worse_than_champion"


def load_training_frame(warehouse: Warehouse, spec: ModelSpec, month) -> pd.DataFrame:
    """The training set of `month` with its features, joined in the warehouse from the snapshots,
    in a fixed row order (by snapshot month, then customer): XGBoost's subsampling and the holdout
    split depend on it, so every engine trains the same model. Sorted here rather than with an
    ORDER BY, which would make the warehouse hold the whole sorted result before the first row
    streams out (1.2 GB for 10M narrow rows)."""
    features = ", ".join(f"s.{f}" for f in spec.features)
    frame = warehouse.read_features(
        f"SELECT t.customer_id, t.snapshot_month, t.label, {features} "
        f"FROM {warehouse.table(training_set_table(spec.name))} t "
        f"JOIN {warehouse.table(snapshot_table(spec.source.name))} s "
        "ON s.customer_id = t.customer_id AND s.snapshot_month = t.snapshot_month "
        "WHERE t.training_month = ?",
        [month],
    )
    return take_rows(frame, modeling.row_order(frame, ["snapshot_month", "customer_id"]))


def split_holdout(frame: pd.DataFrame, seed: int) -> tuple[np.ndarray, str]:
    """Boolean mask of holdout rows: the latest labelled month, or a seeded stratified 20% split
    when only one month is labelled."""
    months = frame["snapshot_month"]
    if months.nunique() >= 2:
        return (months == months.max()).to_numpy(), f"time-based: snapshot month {pd.Timestamp(months.max()).date()}"
    from sklearn.model_selection import train_test_split

    _, holdout_index = train_test_split(frame.index, test_size=0.2, random_state=seed, stratify=frame["label"])
    return frame.index.isin(holdout_index), "seeded stratified 20% split (single labelled month)"


def build_model_asset(spec: ModelSpec, partitions_def: PartitionsDefinition) -> AssetsDefinition:
    """The model version for a month: trained once per distinct input, promoted if it passes its gates."""
    key = model_key(spec.name, "model")

    @asset(
        key=key,
        group_name=spec.name,
        partitions_def=partitions_def,
        retry_policy=WAREHOUSE_RETRY,
        deps=[model_key(spec.name, "training_set")],
        kinds={"xgboost", "pandas"},
        owners=list(spec.owners),
        code_version=model_code_version(),
        # Quality gates warn and never block: a failed challenger is simply not promoted and the
        # champion keeps producing the monthly list (alerts pick up the failed check).
        check_specs=[
            AssetCheckSpec(
                QUALITY_CHECK,
                asset=key,
                description=f"Holdout ROC AUC >= {spec.gates.min_auc} and PR AUC >= {spec.gates.min_pr_auc}. "
                "A version that fails is not promoted.",
            ),
            AssetCheckSpec(
                CHAMPION_CHECK,
                asset=key,
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
        frame = load_training_frame(warehouse, spec, month)
        fingerprint = hashlib.sha256(
            json.dumps(
                {
                    "training_set": modeling.frame_hash(frame, ["snapshot_month", "customer_id"]),
                    "params": spec.params,
                    "seed": spec.seed,
                    "features": spec.features,
                    "categorical": spec.categorical_features,
                    "code_version": model_code_version(),
                    # Only when set, so that fingerprints of existing versions stay what they were.
                    **({"refit_on_all_months": True} if spec.refit_on_all_months else {}),
                },
                sort_keys=True,
                default=str,
            ).encode()
        ).hexdigest()

        holdout, split = split_holdout(frame, spec.seed)
        y = frame["label"].to_numpy()
        version = registry.find_by_fingerprint(warehouse, spec.name, fingerprint)
        reused = version is not None
        if reused:
            context.log.info(f"Inputs unchanged: reusing {spec.name} v{version.version} (no retraining)")
        else:
            schema = modeling.feature_schema(frame, spec.features, spec.categorical_features, rows=~holdout)
            context.log.info(
                f"Training {spec.name} on {(~holdout).sum():,} rows; holdout {holdout.sum():,} rows ({split})"
            )
            trained = modeling.train(
                modeling.feature_matrix(frame, schema, rows=~holdout), y[~holdout], spec.params, spec.seed
            )
            metrics = modeling.evaluate(y[holdout], modeling.score(trained.artifact, frame, schema, rows=holdout))
            metrics.update(
                {
                    "split": split,
                    "training_rows": int((~holdout).sum()),
                    "feature_importance": trained.feature_importance,
                }
            )
            if spec.refit_on_all_months:
                # Judged on the holdout, then trained again on every labelled month (holdout included):
                # the version in force has seen all the data there is. Same params and seed: deterministic.
                schema = modeling.feature_schema(frame, spec.features, spec.categorical_features)
                context.log.info(f"Refitting {spec.name} on all {len(frame):,} labelled rows (refit_on_all_months)")
                trained = modeling.train(modeling.feature_matrix(frame, schema), y, spec.params, spec.seed)
                metrics.update(
                    {
                        "refit_on_all_months": True,
                        "training_rows": len(frame),
                        "feature_importance": trained.feature_importance,
                    }
                )
            registry.register(
                warehouse,
                spec.name,
                {
                    "trained_for_month": month,
                    "fingerprint": fingerprint,
                    "training_months": json.dumps(
                        sorted(str(pd.Timestamp(m).date()) for m in frame["snapshot_month"].unique())
                    ),
                    "params": json.dumps(spec.params, sort_keys=True),
                    "seed": spec.seed,
                    "code_version": model_code_version(),
                    "metrics": json.dumps(metrics),
                    "feature_schema": json.dumps(schema),
                    "artifact": trained.artifact,
                    "artifact_sha256": trained.artifact_sha256,
                },
            )
            version = registry.find_by_fingerprint(warehouse, spec.name, fingerprint)
        metrics = version.metrics

        # The champion before this month, judged on this version's holdout.
        incumbent = registry.champion_for(warehouse, spec.name, add_months(month, -1))
        incumbent_auc = None
        if incumbent is not None and incumbent.version != version.version:
            missing = [f for f in incumbent.feature_schema["features"] if f not in frame.columns]
            if not missing:
                incumbent_scores = modeling.score(incumbent.artifact, frame, incumbent.feature_schema, rows=holdout)
                incumbent_auc = modeling.evaluate(y[holdout], incumbent_scores)["auc"]

        gates = spec.gates
        positives = int(y[holdout].sum())
        enough_positives = positives >= gates.min_holdout_positives
        quality_ok = enough_positives and metrics["auc"] >= gates.min_auc and metrics["pr_auc"] >= gates.min_pr_auc
        not_worse = incumbent_auc is None or metrics["auc"] >= incumbent_auc - gates.max_auc_drop_vs_champion
        if quality_ok and not_worse:
            registry.promote(warehouse, spec.name, version.version, month)
        else:
            registry.set_alias(warehouse, spec.name, registry.CHALLENGER, version.version)
            context.log.warning(
                f"{spec.name} v{version.version} not promoted; champion stays "
                f"{'v' + str(incumbent.version) if incumbent else 'none (nothing will be published)'}"
            )
        champion = registry.champion_for(warehouse, spec.name, month)
        importance = metrics.get("feature_importance", {})
        top_features = dict(sorted(importance.items(), key=lambda kv: -kv[1])[:10])
        stays = f"champion stays {'v' + str(incumbent.version) if incumbent else 'none'}"
        checks = [
            AssetCheckResult(
                check_name=QUALITY_CHECK,
                passed=quality_ok,
                severity=AssetCheckSeverity.WARN,
                description=(
                    f"holdout AUC {metrics['auc']:.3f} (floor {gates.min_auc}), "
                    f"PR AUC {metrics['pr_auc']:.3f} (floor {gates.min_pr_auc})"
                    if enough_positives
                    else f"not judged: the holdout holds {positives} positive labels, fewer than "
                    f"min_holdout_positives {gates.min_holdout_positives} (AUC {metrics['auc']:.3f} on so few means "
                    "little)"
                )
                + ("" if quality_ok else f"; not promoted, {stays}"),
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
                passed=not_worse,
                severity=AssetCheckSeverity.WARN,
                description=(
                    "no other champion to compare with"
                    if incumbent_auc is None
                    else f"AUC {metrics['auc']:.3f} vs champion v{incumbent.version} {incumbent_auc:.3f} on the "
                    f"same holdout (tolerated drop {gates.max_auc_drop_vs_champion})"
                    + ("" if not_worse else f"; not promoted, {stays}")
                ),
                metadata={
                    "value": metrics["auc"],
                    "champion_auc": incumbent_auc,
                    "champion_version": incumbent.version if incumbent else None,
                    "threshold": (incumbent_auc - gates.max_auc_drop_vs_champion)
                    if incumbent_auc is not None
                    else None,
                },
            ),
        ]
        record_gates(warehouse, key, month, checks)
        return MaterializeResult(
            metadata={
                **plots.model_plots(metrics, importance),
                "version": version.version,
                "reused_existing_version": reused,
                "promoted": bool(quality_ok and not_worse),
                "champion_version": champion.version if champion else None,
                "auc": metrics["auc"],
                "pr_auc": metrics["pr_auc"],
                "top_decile_lift": metrics["top_decile_lift"],
                "holdout": metrics["split"],
                "training_rows": metrics["training_rows"],
                "artifact_sha256": version.artifact_sha256,
                "feature_importance": MetadataValue.json(top_features),
            },
            check_results=checks,
            data_version=DataVersion(version.artifact_sha256),
        )

    return model

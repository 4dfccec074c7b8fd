"""Train a model version for a month, or reuse the one already trained from the same inputs, and
judge it against the champion in force. Plain functions: the model asset calls them."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from churn_assets import modeling
from churn_assets.catalog import ModelSpec
from churn_assets.code_version import model_code_version
from churn_assets.rules.months import add_months
from churn_assets.rules.promotion import Promotion, decide
from churn_assets.warehouse import Warehouse, registry
from churn_assets.warehouse.registry import ModelVersion


def fingerprint(spec: ModelSpec, frame: pd.DataFrame) -> str:
    """What identifies a version: its training rows, params, seed, features and code."""
    return hashlib.sha256(
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


def split_holdout(frame: pd.DataFrame, seed: int) -> tuple[np.ndarray, str]:
    """Boolean mask of holdout rows: the latest labelled month, or a seeded stratified 20% split
    when only one month is labelled."""
    months = frame["snapshot_month"]
    if months.nunique() >= 2:
        return (months == months.max()).to_numpy(), f"time-based: snapshot month {pd.Timestamp(months.max()).date()}"
    from sklearn.model_selection import train_test_split

    _, holdout_index = train_test_split(frame.index, test_size=0.2, random_state=seed, stratify=frame["label"])
    return frame.index.isin(holdout_index), "seeded stratified 20% split (single labelled month)"


def train_or_reuse(
    warehouse: Warehouse, spec: ModelSpec, month: dt.date, frame: pd.DataFrame, holdout: np.ndarray, split: str, log
) -> tuple[ModelVersion, bool]:
    """The registry version for these inputs, trained and registered only if none exists yet."""
    key = fingerprint(spec, frame)
    version = registry.find_by_fingerprint(warehouse, spec.name, key)
    if version is not None:
        log(f"Inputs unchanged: reusing {spec.name} v{version.version} (no retraining)")
        return version, True
    y = frame["label"].to_numpy()
    schema = modeling.feature_schema(frame, spec.features, spec.categorical_features, rows=~holdout)
    log(f"Training {spec.name} on {(~holdout).sum():,} rows; holdout {holdout.sum():,} rows ({split})")
    trained = modeling.train(modeling.feature_matrix(frame, schema, rows=~holdout), y[~holdout], spec.params, spec.seed)
    metrics = modeling.evaluate(y[holdout], modeling.score(trained.artifact, frame, schema, rows=holdout))
    metrics.update(
        {"split": split, "training_rows": int((~holdout).sum()), "feature_importance": trained.feature_importance}
    )
    if spec.refit_on_all_months:
        # Judged on the holdout, then trained again on every labelled month (holdout included):
        # the version in force has seen all the data there is. Same params and seed: deterministic.
        schema = modeling.feature_schema(frame, spec.features, spec.categorical_features)
        log(f"Refitting {spec.name} on all {len(frame):,} labelled rows (refit_on_all_months)")
        trained = modeling.train(modeling.feature_matrix(frame, schema), y, spec.params, spec.seed)
        metrics.update(
            {"refit_on_all_months": True, "training_rows": len(frame), "feature_importance": trained.feature_importance}
        )
    registry.register(
        warehouse,
        spec.name,
        {
            "trained_for_month": month,
            "fingerprint": key,
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
    return registry.find_by_fingerprint(warehouse, spec.name, key), False


@dataclass(frozen=True)
class Verdict:
    """A version judged for a month: the decision, and what it was compared with."""

    promotion: Promotion
    holdout_positives: int
    incumbent: ModelVersion | None
    incumbent_auc: float | None


def judge(
    warehouse: Warehouse,
    spec: ModelSpec,
    month: dt.date,
    version: ModelVersion,
    frame: pd.DataFrame,
    holdout: np.ndarray,
) -> Verdict:
    """Judge `version` against the gates and the champion in force before `month` (scored on the
    same holdout), and record the outcome: promoted to champion, or kept as challenger."""
    y = frame["label"].to_numpy()
    incumbent = registry.champion_for(warehouse, spec.name, add_months(month, -1))
    incumbent_auc = None
    if incumbent is not None and incumbent.version != version.version:
        if all(f in frame.columns for f in incumbent.feature_schema["features"]):
            scores = modeling.score(incumbent.artifact, frame, incumbent.feature_schema, rows=holdout)
            incumbent_auc = modeling.evaluate(y[holdout], scores)["auc"]
    positives = int(y[holdout].sum())
    metrics = version.metrics
    promotion = decide(spec.gates, metrics["auc"], metrics["pr_auc"], positives, incumbent_auc)
    if promotion.promoted:
        registry.promote(warehouse, spec.name, version.version, month)
    else:
        registry.set_alias(warehouse, spec.name, registry.CHALLENGER, version.version)
    return Verdict(promotion, positives, incumbent, incumbent_auc)

"""The model of a month: trained (or reused) on the month's training set, judged against the
champion in force, and the champion after the decision (plain functions; the model asset calls
them)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from churn_assets.model_versions import Verdict, judge, split_holdout, train_or_reuse
from churn_assets.rules.gates import GateResult
from churn_assets.warehouse import registry
from churn_assets.warehouse.registry import ModelVersion
from churn_assets.warehouse.snapshots import training_frame

QUALITY_CHECK = "holdout_auc"
CHAMPION_CHECK = "not_worse_than_champion"


@dataclass(frozen=True)
class MonthModel:
    version: ModelVersion
    reused: bool
    verdict: Verdict
    champion: ModelVersion | None
    """The champion in force after this month's decision."""


def model_for_month(warehouse, spec, month: dt.date, log: Callable[[str], None] = print) -> MonthModel | None:
    """Train or reuse the month's version and decide its promotion; None when no label window has
    closed yet (nothing to train)."""
    frame = training_frame(warehouse, spec, month)
    if frame.empty:
        return None
    holdout, split = split_holdout(frame, spec.seed)
    version, reused = train_or_reuse(warehouse, spec, month, frame, holdout, split, log)
    verdict = judge(warehouse, spec, month, version, frame, holdout)
    return MonthModel(version, reused, verdict, registry.champion_for(warehouse, spec.name, month))


def champion_stays(verdict: Verdict) -> str:
    incumbent = verdict.incumbent
    return f"champion stays {'v' + str(incumbent.version) if incumbent else 'none (nothing will be published)'}"


def quality_gates(spec, version: ModelVersion, verdict: Verdict) -> list[GateResult]:
    """The two quality gates of a version (they warn; they never block)."""
    gates, metrics, promotion = spec.gates, version.metrics, verdict.promotion
    stays = champion_stays(verdict)
    incumbent, incumbent_auc, positives = verdict.incumbent, verdict.incumbent_auc, verdict.holdout_positives
    quality = (
        f"holdout AUC {metrics['auc']:.3f} (floor {gates.min_auc}), PR AUC {metrics['pr_auc']:.3f} "
        f"(floor {gates.min_pr_auc})"
        if promotion.enough_positives
        else f"not judged: the holdout holds {positives} positive labels, fewer than min_holdout_positives "
        f"{gates.min_holdout_positives} (AUC {metrics['auc']:.3f} on so few means little)"
    )
    against = (
        "no other champion to compare with"
        if incumbent_auc is None
        else f"AUC {metrics['auc']:.3f} vs champion v{incumbent.version} {incumbent_auc:.3f} on the same holdout "
        f"(tolerated drop {gates.max_auc_drop_vs_champion})"
        + ("" if promotion.not_worse else f"; not promoted, {stays}")
    )
    return [
        GateResult(
            QUALITY_CHECK,
            promotion.quality_ok,
            metrics["auc"],
            gates.min_auc,
            quality + ("" if promotion.quality_ok else f"; not promoted, {stays}"),
            {
                "pr_auc": metrics["pr_auc"],
                "pr_auc_threshold": gates.min_pr_auc,
                "holdout_positives": positives,
                "min_holdout_positives": gates.min_holdout_positives,
                "version": version.version,
            },
        ),
        GateResult(
            CHAMPION_CHECK,
            promotion.not_worse,
            metrics["auc"],
            (incumbent_auc - gates.max_auc_drop_vs_champion) if incumbent_auc is not None else None,
            against,
            {"champion_auc": incumbent_auc, "champion_version": incumbent.version if incumbent else None},
        ),
    ]

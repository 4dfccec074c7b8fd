"""The promotion decision: does a model version become champion? Pure, no Dagster, no warehouse."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Promotion:
    """A version's verdict against the quality gates and the champion in force."""

    enough_positives: bool
    quality_ok: bool
    not_worse: bool

    @property
    def promoted(self) -> bool:
        return self.quality_ok and self.not_worse


def decide(gates, auc: float, pr_auc: float, holdout_positives: int, champion_auc: float | None) -> Promotion:
    """Promote when the holdout holds enough positives to judge, both AUC floors are met, and the
    version is not worse than the champion in force (judged on the same holdout) by more than the
    tolerated drop. No champion to compare with is not a reason to refuse."""
    enough = holdout_positives >= gates.min_holdout_positives
    quality_ok = enough and auc >= gates.min_auc and pr_auc >= gates.min_pr_auc
    not_worse = champion_auc is None or auc >= champion_auc - gates.max_auc_drop_vs_champion
    return Promotion(enough_positives=enough, quality_ok=quality_ok, not_worse=not_worse)

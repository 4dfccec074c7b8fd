"""The promotion policy on its own: which version becomes champion, and why not."""

from types import SimpleNamespace

import pytest

from churn_assets.rules.promotion import decide

GATES = SimpleNamespace(min_auc=0.70, min_pr_auc=0.20, max_auc_drop_vs_champion=0.02, min_holdout_positives=30)


def test_a_good_first_version_is_promoted_without_a_champion_to_compare_with():
    verdict = decide(GATES, auc=0.80, pr_auc=0.30, holdout_positives=120, champion_auc=None)
    assert verdict.promoted and verdict.quality_ok and verdict.not_worse and verdict.enough_positives


@pytest.mark.parametrize(
    ("auc", "pr_auc", "reason"),
    [(0.69, 0.30, "ROC AUC below its floor"), (0.80, 0.19, "PR AUC below its floor")],
)
def test_a_version_below_either_floor_is_not_promoted(auc, pr_auc, reason):
    verdict = decide(GATES, auc=auc, pr_auc=pr_auc, holdout_positives=120, champion_auc=None)
    assert not verdict.quality_ok and not verdict.promoted, reason
    assert verdict.not_worse  # the champion comparison is a separate gate


def test_too_few_positives_is_not_judged_so_not_promoted_however_good_the_auc():
    verdict = decide(GATES, auc=0.99, pr_auc=0.90, holdout_positives=29, champion_auc=None)
    assert not verdict.enough_positives and not verdict.quality_ok and not verdict.promoted
    assert decide(GATES, auc=0.99, pr_auc=0.90, holdout_positives=30, champion_auc=None).promoted


def test_the_champion_may_be_beaten_by_up_to_the_tolerated_drop_but_not_more():
    within = decide(GATES, auc=0.780, pr_auc=0.30, holdout_positives=120, champion_auc=0.80)
    beyond = decide(GATES, auc=0.779, pr_auc=0.30, holdout_positives=120, champion_auc=0.80)
    assert within.promoted and within.not_worse
    assert beyond.quality_ok and not beyond.not_worse and not beyond.promoted


def test_a_better_version_than_the_champion_is_promoted():
    assert decide(GATES, auc=0.85, pr_auc=0.30, holdout_positives=120, champion_auc=0.80).promoted

"""The looking-back rules without Dagster: feature drift (PSI per feature, the `feature_drift`
gate) and the realised outcome of a list (the `realised_lift` gate)."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from churn_assets.rules.drift import (
    NULL,
    UNSEEN,
    categorical_buckets,
    drift_gate,
    feature_drift,
    numeric_buckets,
    psi_of_shares,
)
from churn_assets.rules.outcomes import list_outcome, one_verdict, realised_lift_gate

M, PREVIOUS = dt.date(2025, 6, 1), dt.date(2025, 5, 1)


def month(seed: int, n: int = 5000, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "minutes": rng.gamma(4, 10, n) + shift,
            "flag": rng.random(n) < 0.3,
            "days": rng.choice([29, 30], n),
            "plan": pd.Categorical(rng.choice(["basic", "plus", "pro"], n, p=[0.5, 0.3, 0.2])),
        }
    )


def test_numeric_buckets_are_last_months_deciles_and_null_is_its_own():
    previous = pd.Series(np.arange(1, 101, dtype=float))
    labels, before, now = numeric_buckets(previous, pd.Series([1.0, 50.0, None, 100.0]))
    # 11 distinct deciles (minimum and maximum included): 10 edges halfway between, 11 buckets, then NULL.
    assert len(labels) == 12 and labels[-1] == NULL
    assert before.sum() == pytest.approx(1.0) and before[-1] == 0
    assert now[-1] == pytest.approx(0.25)  # one NULL of four
    assert now[0] == pytest.approx(0.25) and now[-2] == pytest.approx(0.25)  # the minimum, the maximum


def test_a_feature_on_few_points_keeps_each_point_in_one_bucket():
    # Days to the end of a monthly contract follow the month's length: 29 one month, 30 the next.
    previous, current = pd.Series([29] * 60 + [300] * 40), pd.Series([30] * 60 + [300] * 40)
    labels, before, now = numeric_buckets(previous, current)
    assert psi_of_shares(before, now) == pytest.approx(0.0)
    flags = numeric_buckets(pd.Series([True] * 30 + [False] * 70), pd.Series([True] * 70 + [False] * 30))
    assert len(flags[0]) == 3  # below and above halfway between False and True, and NULL
    assert psi_of_shares(flags[1], flags[2]) > 0.25


def test_categorical_levels_never_seen_before_share_one_bucket():
    labels, before, now = categorical_buckets(
        pd.Series(["a", "b", None, "a"]), pd.Series(pd.Categorical(["a", "new", "newer", None]))
    )
    assert labels == ["a", "b", UNSEEN, NULL]
    assert before.tolist() == [0.5, 0.25, 0.0, 0.25]
    assert now.tolist() == [0.25, 0.0, 0.5, 0.25]


def test_honest_months_do_not_drift_and_a_shifted_feature_is_named_first():
    previous, honest = month(1), month(2)
    drifts = feature_drift(previous, honest, ["minutes", "flag", "days"], ["plan"])
    assert max(d.psi for d in drifts) < 0.02
    assert drift_gate(drifts, 0.25, M, PREVIOUS).passed

    shifted = month(2)
    shifted["minutes"] *= 2
    shifted["plan"] = shifted["plan"].astype(object).where(np.arange(len(shifted)) % 33 > 0, "platinum")
    drifts = feature_drift(previous, shifted, ["minutes", "flag", "days"], ["plan"])
    assert [d.feature for d in drifts[:2]] == ["minutes", "plan"]  # most drifted first
    gate = drift_gate(drifts, 0.25, M, PREVIOUS)
    assert not gate.passed
    assert gate.value == pytest.approx(drifts[0].psi, abs=1e-6) and gate.threshold == 0.25
    assert list(gate.details["drifted_features"]) == ["minutes", "plan"]
    assert gate.summary.index("minutes (PSI") < gate.summary.index("plan (PSI")
    assert UNSEEN in gate.details["buckets_that_moved_most"]["plan"]


def test_a_feed_sending_nulls_drifts():
    previous, current = month(1), month(2)
    current.loc[current.index % 4 == 0, "minutes"] = np.nan
    drifts = {d.feature: d for d in feature_drift(previous, current, ["minutes"], [])}
    assert drifts["minutes"].psi > 0.25 and NULL in drifts["minutes"].top_buckets


def test_list_outcome_figures_by_hand():
    ids = np.arange(10)
    scores = np.linspace(0.9, 0.0, 10)  # customer 0 ranked first
    labels = np.array([1, 1, 0, 0, 1, 0, 0, 0, 0, np.nan])  # customer 9's label is unknown
    outcome = list_outcome(ids, scores, labels, listed_ids=[0, 1, 2, 3])
    assert (outcome.listed, outcome.listed_with_label, outcome.positives_listed) == (4, 4, 2)
    assert outcome.precision == 0.5
    assert outcome.scored_with_label == 9 and outcome.positives == 3
    assert outcome.base_rate == pytest.approx(3 / 9)
    assert outcome.lift == pytest.approx(0.5 / (3 / 9))
    assert outcome.recall == pytest.approx(2 / 3)
    assert outcome.auc == pytest.approx(roc_auc_score(labels[:9], scores[:9]))


def test_realised_lift_gate_passes_a_good_list_and_fails_a_random_one():
    rng = np.random.default_rng(3)
    n = 20_000
    risk = rng.random(n)
    labels = (rng.random(n) < risk * 0.2).astype(float)  # the score is informative
    good = list_outcome(np.arange(n), risk, labels, np.argsort(-risk)[: n // 10])
    gate = realised_lift_gate(good, 1.5, M, M, 7, "churned")
    assert gate.passed and gate.value > 1.5
    assert gate.details["model_version"] == 7 and gate.details["list_month"] == str(M)

    random_list = rng.choice(n, n // 10, replace=False)  # the list ignores the score
    bad = list_outcome(np.arange(n), risk, labels, random_list)
    gate = realised_lift_gate(bad, 1.5, M, PREVIOUS, 7, "churned")
    assert not gate.passed and gate.value < 1.2
    assert gate.threshold == 1.5
    # The list judged was in force when its month was blocked: named, with its model version.
    assert f"list of {PREVIOUS} (in force at {M}), model v7" in gate.summary and "BELOW" in gate.summary
    assert gate.details["precision"] == pytest.approx(bad.precision, abs=1e-4)


def test_a_list_without_any_positive_label_has_no_lift_and_fails():
    outcome = list_outcome(np.arange(4), np.ones(4) * 0.5, np.zeros(4), [0])
    assert outcome.lift is None and outcome.auc is None
    gate = realised_lift_gate(outcome, 1.5, M, M, 1, "churned")
    assert not gate.passed and gate.value is None and "undefined" in gate.summary


def test_lists_judged_in_one_run_give_one_verdict_failing_if_one_fails():
    rng = np.random.default_rng(5)
    risk = rng.random(5000)
    labels = (rng.random(5000) < risk * 0.2).astype(float)
    good = realised_lift_gate(list_outcome(np.arange(5000), risk, labels, np.argsort(-risk)[:500]), 1.5, M, M, 2, "y")
    bad = realised_lift_gate(
        list_outcome(np.arange(5000), risk, labels, np.arange(500)), 1.5, PREVIOUS, PREVIOUS, 1, "y"
    )
    assert one_verdict([good]) is good
    verdict = one_verdict([bad, good])
    assert not verdict.passed and verdict.value == bad.value  # shown by the failed list
    assert verdict.details["also_judged"] == {str(M): good.value}
    assert (
        verdict.summary.startswith(f"list of {PREVIOUS}, model v1") and f"Also judged: list of {M}" in verdict.summary
    )
    assert one_verdict([good, good]).passed

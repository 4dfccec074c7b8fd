import numpy as np
import pandas as pd
import pytest

from churn_assets.catalog import Exclusion
from churn_assets.rules.lists import excluded_mask, list_size, rank_scores
from churn_assets.rules.overlap import top_k_overlap


def test_overlap_counts_only_customers_still_present():
    previous = np.array([1, 2, 3, 4])
    current = np.array([1, 2, 9])
    # Customers 3 and 4 have churned: they are not in this month's population.
    population = np.array([1, 2, 5, 9])
    result = top_k_overlap(current, previous, population)
    assert result.overlap == 1.0
    assert result.previous_listed_still_present == 2
    assert result.entering == 1


def test_overlap_of_a_scrambled_list_is_zero_and_of_an_identical_list_is_one():
    previous = np.arange(100)
    population = np.arange(1000)
    assert top_k_overlap(np.arange(500, 600), previous, population).overlap == 0.0
    assert top_k_overlap(previous, previous, population).overlap == 1.0


def test_overlap_is_undefined_when_nobody_listed_is_left():
    result = top_k_overlap(np.array([7]), np.array([1, 2]), np.array([7]))
    assert result.overlap is None and not result.comparable


def test_list_size_is_the_top_fraction_rounded_up():
    assert list_size(1000, 0.1) == 100
    assert list_size(1001, 0.1) == 101
    assert list_size(3, 0.1) == 1
    assert list_size(0, 0.1) == 0


def test_ranks_are_unique_dense_and_break_ties_by_customer_id():
    scores = np.array([0.5, 0.9, 0.5, 0.1])
    ids = np.array([30, 10, 20, 40])
    assert rank_scores(scores, ids).tolist() == [3, 1, 2, 4]


@pytest.mark.parametrize("flag, unflagged", [(True, False), (1, 0), ("true", "false"), ("TRUE", "FALSE")])
def test_exclusions_match_booleans_in_any_warehouse_spelling(flag, unflagged):
    frame = pd.DataFrame({"do_not_contact": [flag, unflagged], "status": ["active", "cancelled"]})
    rules = [Exclusion("do_not_contact", True, "dnc"), Exclusion("status", "cancelled", "churned")]
    assert excluded_mask(frame, rules).tolist() == [True, True]
    assert excluded_mask(frame, rules[:1]).tolist() == [True, False]


def _month(ids, scores, month):
    import datetime as dt

    from churn_assets.rules.gates import MonthPredictions

    return MonthPredictions(
        ids=np.asarray(ids),
        scores=np.asarray(scores, dtype=float),
        ranks=rank_scores(np.asarray(scores, dtype=float), np.asarray(ids)),
        month=dt.date(*month, 1),
    )


def test_psi_compares_with_the_month_just_before_not_a_stale_published_one():
    from churn_assets.catalog import load_catalog
    from churn_assets.rules.gates import SCORE_PSI, business_gates

    rng = np.random.default_rng(0)
    ids = np.arange(5000)
    stale = _month(ids, rng.beta(1, 30, 5000), (2025, 1))  # last published, months ago
    last = _month(ids, rng.beta(2, 10, 5000), (2025, 4))  # scored last month, not published
    now = _month(ids, rng.beta(2, 10, 5000), (2025, 5))
    spec = load_catalog().models["churn"]
    by_name = lambda results: {r.name: r for r in results}  # noqa: E731
    against_stale = by_name(business_gates(spec.gates, 0.1, now, stale))[SCORE_PSI]
    against_last = by_name(business_gates(spec.gates, 0.1, now, stale, psi_reference=last))[SCORE_PSI]
    assert not against_stale.passed and against_stale.value > spec.gates.max_psi
    assert against_last.passed and against_last.value < 0.05


@pytest.mark.parametrize("kind", ["int", "text"])
def test_sorted_id_sets_agree_with_python_sets(kind):
    from collections import Counter

    from churn_assets.rules.idsets import in_set, sorted_unique, unique_and_duplicated

    rng = np.random.default_rng(5)
    ids = rng.integers(0, 5_000, 8_000) * 1_000_000_007  # sparse ids, with repeats
    others = rng.integers(0, 5_000, 3_000) * 1_000_000_007
    if kind == "text":
        ids, others = ids.astype(str).astype(object), others.astype(str).astype(object)
    unique, duplicated = unique_and_duplicated(ids)
    assert unique.tolist() == sorted(set(ids.tolist()))
    counts = Counter(ids.tolist())
    assert duplicated.tolist() == sorted(v for v, n in counts.items() if n > 1)
    members = sorted_unique(others)
    assert unique[in_set(unique, members)].tolist() == sorted(set(ids.tolist()) & set(others.tolist()))


@pytest.mark.parametrize("kind", ["int", "text"])
def test_rank_correlation_is_spearman_over_common_customers_and_samples_the_same_customers_in_both_months(kind):
    from scipy.stats import spearmanr

    from churn_assets.rules.distribution import rank_correlation

    rng = np.random.default_rng(11)
    then_ids = rng.permutation(np.arange(1, 40_001)) * 7
    risk = rng.normal(size=len(then_ids))
    stay = rng.random(len(then_ids)) >= 0.1
    now_ids = np.concatenate([then_ids[stay], np.arange(1, 4_001) * 7 + 3])  # 10% gone, 4,000 new
    now_risk = np.concatenate([risk[stay] + rng.normal(scale=0.8, size=stay.sum()), rng.normal(size=4_000)])
    if kind == "text":
        then_ids, now_ids = then_ids.astype(str).astype(object), now_ids.astype(str).astype(object)
    exact = spearmanr(now_risk[: stay.sum()], risk[stay]).statistic

    value, pairs = rank_correlation((now_ids, now_risk), (then_ids, risk))
    assert pairs == stay.sum() and value == pytest.approx(exact, abs=1e-12)

    sampled, sampled_pairs = rank_correlation((now_ids, now_risk), (then_ids, risk), max_customers=8_000)
    # About 8,000 / 40,000 of the common customers: drawn independently per month it would be ~1/25.
    assert 0.15 * stay.sum() < sampled_pairs < 0.25 * stay.sum()
    assert sampled == pytest.approx(exact, abs=0.03) and sampled != exact
    assert rank_correlation((now_ids, now_risk), (then_ids, risk), max_customers=8_000) == (sampled, sampled_pairs)
    assert rank_correlation((now_ids[:2], now_risk[:2]), (then_ids, risk)) == (None, 2)


def test_overlap_gate_counts_customers_in_both_months_exactly_and_sorts_each_month_once(monkeypatch):
    from churn_assets.catalog import load_catalog
    from churn_assets.rules import gates as gates_module
    from churn_assets.rules.gates import OVERLAP, business_gates

    sorted_months = []
    original = gates_module.unique_and_duplicated
    monkeypatch.setattr(
        gates_module, "unique_and_duplicated", lambda ids: sorted_months.append(len(ids)) or original(ids)
    )
    rng = np.random.default_rng(3)
    then = _month(rng.permutation(np.arange(3_000)), rng.beta(2, 10, 3_000), (2025, 4))
    now = _month(rng.permutation(np.arange(500, 3_500)), rng.beta(2, 10, 3_000), (2025, 5))
    spec = load_catalog().models["churn"]
    gate = next(r for r in business_gates(spec.gates, 0.1, now, then) if r.name == OVERLAP)
    assert gate.details["customers_in_both_months"] == 2_500 == gate.details["rank_correlation_customers"]
    # Every gate (overlap, coverage, the count) shared one sort per month: two sorts in all.
    assert sorted_months == [3_000, 3_000]
    assert now.id_set[0].tolist() == list(range(500, 3_500)) and len(now.id_set[1]) == 0

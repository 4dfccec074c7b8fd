"""The business-rule gates on a month's predictions, as plain results.

One implementation serves the asset checks (churn_assets/checks), `churn-assets validate` and
the pipeline's Validation stage (churn_assets_tests/validation).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from churn_assets.rules.coverage import coverage
from churn_assets.rules.distribution import psi, rank_correlation
from churn_assets.rules.idsets import in_set, unique_and_duplicated
from churn_assets.rules.lists import list_size
from churn_assets.rules.overlap import top_k_overlap

OVERLAP = "top_k_overlap"
PREDICTED_RATE = "predicted_rate"
SCORE_PSI = "score_psi"
COVERAGE = "coverage"
LIST_CAPACITY = "list_capacity"
BUSINESS_GATES = (OVERLAP, PREDICTED_RATE, SCORE_PSI, COVERAGE, LIST_CAPACITY)


@dataclass(frozen=True)
class GateResult:
    """One gate's verdict with what a person needs to act on it."""

    name: str
    passed: bool
    value: Any
    threshold: Any
    summary: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MonthPredictions:
    """Every scored customer of one month (ids, scores, ranks) and, if known, the published list."""

    ids: np.ndarray
    scores: np.ndarray
    ranks: np.ndarray
    month: dt.date | None = None
    model_version: int | None = None
    published_ids: np.ndarray | None = None

    def listed(self, top_fraction: float) -> np.ndarray:
        """The list: as published if known, else the top `top_fraction` by rank."""
        if self.published_ids is not None:
            return self.published_ids
        return self.ids[self.ranks <= list_size(len(self.ids), top_fraction)]

    @cached_property
    def id_set(self) -> tuple[np.ndarray, np.ndarray]:
        """(the distinct ids, sorted; the ids scored more than once): sorted once for every set rule."""
        return unique_and_duplicated(self.ids)


def business_gates(
    gates,
    top_fraction: float,
    current: MonthPredictions,
    previous: MonthPredictions | None,
    eligible_ids: np.ndarray | None = None,
    excluded_ids: np.ndarray | None = None,
    psi_reference: MonthPredictions | None = None,
) -> list[GateResult]:
    """Evaluate every business-rule gate of a month's predictions against the catalogue thresholds.

    `previous` is the last published month (the list the business saw: overlap); `psi_reference`
    the month just before, published or not (score stability month over month), default `previous`.
    Comparing scores with a stale month would let one blocked month block every month after it.
    """
    listed = current.listed(top_fraction)
    return [
        _overlap(gates, top_fraction, current, previous, listed),
        _predicted_rate(gates, current),
        _psi(gates, current, psi_reference if psi_reference is not None else previous),
        _coverage(current, listed, eligible_ids, excluded_ids),
        _capacity(gates, listed),
    ]


def _overlap(gates, top_fraction, current, previous, listed) -> GateResult:
    bounds = f">= {gates.min_top_k_overlap}" + (
        f" and <= {gates.max_top_k_overlap}" if gates.max_top_k_overlap is not None else ""
    )
    threshold = {"min": gates.min_top_k_overlap, "max": gates.max_top_k_overlap}
    if previous is None:
        return GateResult(OVERLAP, True, None, threshold, "no previous list to compare with (first month)")
    present_now, present_then = current.id_set[0], previous.id_set[0]
    result = top_k_overlap(listed, previous.listed(top_fraction), present_now)
    correlation, pairs = rank_correlation((current.ids, current.scores), (previous.ids, previous.scores))
    value = result.overlap
    passed = (
        value is not None
        and value >= gates.min_top_k_overlap
        and (gates.max_top_k_overlap is None or value <= gates.max_top_k_overlap)
    )
    details = {
        "previous_month": str(previous.month) if previous.month else None,
        "previous_listed": result.previous_listed,
        "previous_listed_still_present": result.previous_listed_still_present,
        "relisted": result.relisted,
        "entering_list": result.entering,
        "leaving_list_still_present": result.leaving_still_present,
        "rank_correlation": correlation,
        "rank_correlation_customers": pairs,
        "customers_in_both_months": int(in_set(present_now, present_then).sum()),
    }
    if value is None:
        summary = (
            f"none of the {result.previous_listed} previously listed customers is still present: overlap undefined"
        )
    else:
        summary = f"{value:.3f} of last list's customers still present are listed again (required {bounds})"
    return GateResult(OVERLAP, passed, value, threshold, summary, details)


def _predicted_rate(gates, current) -> GateResult:
    low, high = gates.predicted_rate
    value = float(np.mean(current.scores)) if len(current.scores) else None
    passed = value is not None and low <= value <= high
    return GateResult(
        PREDICTED_RATE,
        passed,
        value,
        {"min": low, "max": high},
        f"mean predicted probability {value:.4f} (band [{low}, {high}])" if value is not None else "no customer scored",
        {"scored": len(current.scores)},
    )


def _psi(gates, current, previous) -> GateResult:
    if previous is None or not len(previous.scores):
        return GateResult(SCORE_PSI, True, None, gates.max_psi, "no previous score distribution to compare with")
    if not len(current.scores):
        return GateResult(SCORE_PSI, False, None, gates.max_psi, "no customer scored this month")
    value = psi(previous.scores, current.scores)
    return GateResult(
        SCORE_PSI,
        value <= gates.max_psi,
        value,
        gates.max_psi,
        f"PSI {value:.4f} of this month's scores against {previous.month or 'the previous month'} (max "
        f"{gates.max_psi})",
        {"previous_month": str(previous.month) if previous.month else None},
    )


def _coverage(current, listed, eligible_ids, excluded_ids) -> GateResult:
    result = coverage(current.ids, current.scores, listed, eligible_ids, excluded_ids, scored_set=current.id_set)
    problems = []
    if result.duplicated_ids:
        problems.append(f"customers scored more than once, e.g. {result.duplicated_ids}")
    if result.invalid_scores:
        problems.append(f"{result.invalid_scores} scores missing or outside [0, 1]")
    if result.missing_eligible:
        problems.append(f"eligible customers not scored, e.g. {result.missing_eligible}")
    if result.scored_not_eligible:
        problems.append(f"customers scored who are not eligible, e.g. {result.scored_not_eligible}")
    if result.excluded_listed:
        problems.append(f"excluded customers listed, e.g. {result.excluded_listed}")
    checked = "eligible population" if eligible_ids is not None else "uniqueness and scores only (population not given)"
    return GateResult(
        COVERAGE,
        result.passed,
        len(problems),
        0,
        "; ".join(problems) if problems else f"{result.scored} customers scored once each ({checked})",
        {
            "scored": result.scored,
            "duplicated_ids": result.duplicated_ids,
            "invalid_scores": result.invalid_scores,
            "missing_eligible": result.missing_eligible,
            "scored_not_eligible": result.scored_not_eligible,
            "excluded_listed": result.excluded_listed,
        },
    )


def _capacity(gates, listed) -> GateResult:
    size = len(listed)
    passed = 0 < size <= gates.list_capacity
    return GateResult(
        LIST_CAPACITY,
        passed,
        size,
        gates.list_capacity,
        f"list of {size:,} customers (retention team capacity {gates.list_capacity:,})",
    )

"""Coverage: every eligible customer scored exactly once, nobody excluded scored or listed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class CoverageResult:
    scored: int
    duplicated_ids: list
    invalid_scores: int
    missing_eligible: list | None
    scored_not_eligible: list | None
    excluded_listed: list | None

    @property
    def passed(self) -> bool:
        return not (
            self.duplicated_ids
            or self.invalid_scores
            or self.missing_eligible
            or self.scored_not_eligible
            or self.excluded_listed
        )


def coverage(
    scored_ids: np.ndarray,
    scores: np.ndarray,
    listed_ids: np.ndarray,
    eligible_ids: np.ndarray | None = None,
    excluded_ids: np.ndarray | None = None,
    examples: int = 20,
) -> CoverageResult:
    """Compare what was scored and listed with the month's eligible and excluded customers.

    Without the population (eligible_ids None, e.g. validating bare prediction files), only
    uniqueness and valid scores are checked.
    """
    # pandas hash tables: at 10M ids numpy's setdiff1d took 30 s here (numpy 2.4's np.unique of a
    # plain array measured 8.8 s for 10M ids, np.sort 0.09 s); this takes 1.6 s (bench/gates.py).
    scored = pd.Index(np.asarray(scored_ids))
    duplicated = scored[scored.duplicated()].unique()[:examples].tolist()
    scores = np.asarray(scores, dtype=float)
    invalid = int(np.sum(~np.isfinite(scores) | (scores < 0) | (scores > 1)))
    missing = not_eligible = excluded_listed = None
    if eligible_ids is not None:
        eligible = pd.Index(np.asarray(eligible_ids))
        missing = eligible[~eligible.isin(scored)][:examples].tolist()
        not_eligible = scored[~scored.isin(eligible)].unique()[:examples].tolist()
    if excluded_ids is not None:
        listed = pd.Index(np.asarray(listed_ids))
        excluded_listed = listed[listed.isin(np.asarray(excluded_ids))][:examples].tolist()
    return CoverageResult(
        scored=len(scored),
        duplicated_ids=duplicated,
        invalid_scores=invalid,
        missing_eligible=missing,
        scored_not_eligible=not_eligible,
        excluded_listed=excluded_listed,
    )

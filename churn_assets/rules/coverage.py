"""Coverage: every eligible customer scored exactly once, nobody excluded scored or listed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from churn_assets.rules.idsets import in_set, sorted_unique, unique_and_duplicated


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
    scored_set: tuple[np.ndarray, np.ndarray] | None = None,
) -> CoverageResult:
    """Compare what was scored and listed with the month's eligible and excluded customers.

    Without the population (eligible_ids None, e.g. validating bare prediction files), only
    uniqueness and valid scores are checked. `scored_set` is `unique_and_duplicated(scored_ids)`
    when the caller has it already.
    """
    unique_scored, duplicated = scored_set if scored_set is not None else unique_and_duplicated(scored_ids)
    duplicated = duplicated[:examples].tolist()
    scores = np.asarray(scores, dtype=float)
    invalid = int(np.sum(~np.isfinite(scores) | (scores < 0) | (scores > 1)))
    missing = not_eligible = excluded_listed = None
    if eligible_ids is not None:
        eligible = sorted_unique(eligible_ids)
        missing = eligible[~in_set(eligible, unique_scored)][:examples].tolist()
        not_eligible = unique_scored[~in_set(unique_scored, eligible)][:examples].tolist()
    if excluded_ids is not None:
        listed = sorted_unique(listed_ids)
        excluded_listed = listed[in_set(listed, sorted_unique(excluded_ids))][:examples].tolist()
    return CoverageResult(
        scored=len(scored_ids),
        duplicated_ids=duplicated,
        invalid_scores=invalid,
        missing_eligible=missing,
        scored_not_eligible=not_eligible,
        excluded_listed=excluded_listed,
    )

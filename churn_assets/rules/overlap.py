"""Top-K overlap with last month's published list: the stakeholders' stability rule."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from churn_assets.rules.idsets import in_set, sorted_unique


@dataclass(frozen=True)
class OverlapResult:
    """Overlap of this month's list with the previous list, over customers present in both months."""

    overlap: float | None
    previous_listed: int
    previous_listed_still_present: int
    relisted: int
    entering: int
    leaving_still_present: int

    @property
    def comparable(self) -> bool:
        return self.overlap is not None


def top_k_overlap(current_list: np.ndarray, previous_list: np.ndarray, current_population: np.ndarray) -> OverlapResult:
    """Share of last month's listed customers, still present this month, that are listed again.

    Customers who left since (churned, became ineligible) cannot be listed again; counting
    them would make an honest model look unstable, so the denominator excludes them.
    """
    current_list = sorted_unique(current_list)
    previous_list = sorted_unique(previous_list)
    still_present = previous_list[in_set(previous_list, sorted_unique(current_population))]
    relisted = still_present[in_set(still_present, current_list)]
    overlap = len(relisted) / len(still_present) if len(still_present) else None
    entering = int((~in_set(current_list, previous_list)).sum())
    return OverlapResult(
        overlap=overlap,
        previous_listed=len(previous_list),
        previous_listed_still_present=len(still_present),
        relisted=len(relisted),
        entering=entering,
        leaving_still_present=len(still_present) - len(relisted),
    )

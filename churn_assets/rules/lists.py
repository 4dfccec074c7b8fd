"""Eligibility, ranking and the size of the published list."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd


def excluded_mask(frame: pd.DataFrame, exclusions: Iterable) -> pd.Series:
    """True for rows that an exclusion rule (column == value) removes from scoring."""
    mask = pd.Series(False, index=frame.index)
    for rule in exclusions:
        column = frame[rule.column]
        if isinstance(rule.equals, bool):
            # Booleans arrive as bool, 0/1 or 'true'/'false' depending on the warehouse.
            values = column.astype("string").str.lower().isin(["true", "1"] if rule.equals else ["false", "0"])
        else:
            values = column.astype("string") == str(rule.equals)
        mask |= values.fillna(False).astype(bool)
    return mask


def list_size(eligible_count: int, top_fraction: float) -> int:
    """How many customers the published list holds: the top fraction, at least one."""
    if eligible_count <= 0:
        return 0
    return max(1, math.ceil(eligible_count * top_fraction))


def rank_scores(scores: np.ndarray, customer_ids: np.ndarray) -> np.ndarray:
    """1-based ranks, highest score first; ties broken by customer_id so ranks are stable."""
    order = np.lexsort((customer_ids, -scores))
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[order] = np.arange(1, len(scores) + 1)
    return ranks

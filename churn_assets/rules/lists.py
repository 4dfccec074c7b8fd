"""Eligibility, ranking and the size of the published list."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

from churn_assets.rules.types import column_kind, mismatch


def excluded_mask(frame: pd.DataFrame, exclusions: Iterable) -> pd.Series:
    """True for rows that an exclusion rule (column == value) removes from scoring.

    Raises ValueError when a rule's value cannot be compared with its column (see
    `exclusion_problems`): such a rule would exclude nobody, silently."""
    mask = np.zeros(len(frame), dtype=bool)
    for rule in exclusions:
        problem = exclusion_problem(rule, frame[rule.column])
        if problem:
            raise ValueError(problem)
        mask |= _matches(frame[rule.column], _equals_test(rule.equals))
    return pd.Series(mask, index=frame.index)


def exclusion_problem(rule, column: pd.Series) -> str | None:
    """Why `rule.equals` cannot be compared with the column's values (None when it can)."""
    problem = mismatch(rule.equals, column_kind(column), column)
    return f"exclusion {rule.column} = {rule.equals!r}: {problem}" if problem else None


def exclusion_problems(frame: pd.DataFrame, exclusions: Iterable) -> list[tuple[str, str]]:
    """(column, problem) for every rule whose value cannot be compared with its column in `frame`."""
    found = []
    for rule in exclusions:
        if rule.column in frame.columns:
            problem = exclusion_problem(rule, frame[rule.column])
            if problem:
                found.append((rule.column, problem))
    return found


def _equals_test(equals):
    """The comparison of a rule, on values as text."""
    if isinstance(equals, bool):
        # Booleans arrive as bool, 0/1 or 'true'/'false' depending on the warehouse.
        wanted = ["true", "1", "1.0"] if equals else ["false", "0", "0.0"]
        return lambda text: text.str.strip().str.lower().isin(wanted)
    if isinstance(equals, (int, float)):
        return lambda text: pd.to_numeric(text, errors="coerce") == float(equals)
    return lambda text: text == equals


def _matches(column: pd.Series, test) -> np.ndarray:
    """`test` (on values as text) applied to each distinct value once, then spread to the rows by
    code: a 10M-row column costs one hash pass, not 10M strings. Missing values never match."""
    codes, distinct = pd.factorize(column, use_na_sentinel=True)
    hits = test(pd.Series(distinct).astype("string")).fillna(False).to_numpy(dtype=bool)
    return np.append(hits, False)[codes]  # code -1 (missing) picks the appended False


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

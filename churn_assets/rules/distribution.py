"""Score distribution rules: population stability index and rank agreement between months."""

from __future__ import annotations

import numpy as np
import pandas as pd


def psi(expected: np.ndarray, actual: np.ndarray, bins: int = 10) -> float:
    """Population stability index of `actual` against `expected`, on deciles of `expected`.

    Rule of thumb: < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 large shift.
    """
    expected, actual = np.asarray(expected, dtype=float), np.asarray(actual, dtype=float)
    if len(expected) == 0 or len(actual) == 0:
        raise ValueError("PSI needs two non-empty score distributions")
    edges = np.unique(np.quantile(expected, np.linspace(0, 1, bins + 1)))
    edges[0], edges[-1] = -np.inf, np.inf
    expected_share = np.histogram(expected, edges)[0] / len(expected)
    actual_share = np.histogram(actual, edges)[0] / len(actual)
    # An empty bin would make the log infinite; a small floor keeps the index finite and honest.
    floor = 1e-6
    expected_share, actual_share = np.maximum(expected_share, floor), np.maximum(actual_share, floor)
    return float(np.sum((actual_share - expected_share) * np.log(actual_share / expected_share)))


def rank_correlation(current, previous, max_customers: int = 1_000_000, seed: int = 0) -> tuple[float | None, int]:
    """Spearman correlation of scores for customers scored in both months, and how many they are.

    `current` and `previous` are (ids, scores) pairs. Above `max_customers` common customers the
    correlation is computed on a seeded random sample of that size (it is reported, not gated).
    """
    if current is None or previous is None:
        return None, 0
    (ids_now, scores_now), (ids_then, scores_then) = current, previous
    # Hash join of the two months (pandas), linear in their sizes.
    position_then = pd.Index(np.asarray(ids_then)).get_indexer(np.asarray(ids_now))
    both = np.flatnonzero(position_then >= 0)
    common = len(both)
    if common < 3:
        return None, common
    if common > max_customers:
        both = np.sort(np.random.default_rng(seed).choice(both, max_customers, replace=False))
    now = pd.Series(np.asarray(scores_now, dtype=float)[both]).rank()
    then = pd.Series(np.asarray(scores_then, dtype=float)[position_then[both]]).rank()
    value = float(np.corrcoef(now, then)[0, 1])
    return (None if np.isnan(value) else value), common

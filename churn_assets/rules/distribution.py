"""Score distribution rules: population stability index and rank agreement between months."""

from __future__ import annotations

import numpy as np


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


def rank_correlation(current: dict | None, previous: dict | None) -> tuple[float | None, int]:
    """Spearman correlation of scores for customers scored in both months, and how many they are.

    `current` and `previous` map customer_id -> score arrays as (ids, scores) tuples.
    """
    if current is None or previous is None:
        return None, 0
    from scipy.stats import spearmanr

    (ids_now, scores_now), (ids_then, scores_then) = current, previous
    common, now_index, then_index = np.intersect1d(ids_now, ids_then, return_indices=True)
    if len(common) < 3:
        return None, len(common)
    value = spearmanr(np.asarray(scores_now)[now_index], np.asarray(scores_then)[then_index]).statistic
    return (None if np.isnan(value) else float(value)), len(common)

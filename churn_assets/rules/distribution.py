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


def rank_correlation(current, previous, max_customers: int = 1_000_000) -> tuple[float | None, int]:
    """Spearman correlation of scores for customers scored in both months, and how many pairs it used.

    `current` and `previous` are (ids, scores) pairs. Above `max_customers` customers in a month
    the correlation is computed on a sample of about that many customers, chosen by a hash of
    their id: the same customers are drawn from both months, so the sample is taken before the
    months are matched, and the result is the same on every run (it is reported, not gated).
    """
    if current is None or previous is None:
        return None, 0
    (ids_now, scores_now), (ids_then, scores_then) = current, previous
    ids_now, ids_then = np.asarray(ids_now), np.asarray(ids_then)
    scores_now, scores_then = np.asarray(scores_now, dtype=float), np.asarray(scores_then, dtype=float)
    largest = max(len(ids_now), len(ids_then))
    if largest > max_customers:
        cut = np.uint64(min(max_customers / largest, 1.0) * float(2**64 - 2**11))  # below 2**64 as a float
        now, then = _id_hash(ids_now) < cut, _id_hash(ids_then) < cut
        ids_now, scores_now, ids_then, scores_then = ids_now[now], scores_now[now], ids_then[then], scores_then[then]
    previous_index = pd.Index(ids_then)
    if not previous_index.is_unique:  # a customer scored twice last month: keep the first score
        first = ~previous_index.duplicated()
        previous_index, scores_then = previous_index[first], scores_then[first]
    position_then = previous_index.get_indexer(ids_now)
    both = np.flatnonzero(position_then >= 0)
    if len(both) < 3:
        return None, len(both)
    now_ranks = pd.Series(scores_now[both]).rank()
    then_ranks = pd.Series(scores_then[position_then[both]]).rank()
    value = float(np.corrcoef(now_ranks, then_ranks)[0, 1])
    return (None if np.isnan(value) else value), len(both)


def _id_hash(ids: np.ndarray) -> np.ndarray:
    """A uint64 hash of each id that spreads ids uniformly (the same id, the same hash, every run)."""
    if np.issubdtype(ids.dtype, np.integer):
        # Fibonacci hashing: multiplying by 2**64 / golden ratio (wrapping) scatters consecutive ids.
        return ids.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    return pd.util.hash_array(ids)  # text ids

"""Feature drift between two months' snapshots: the population stability index of every feature,
and the `feature_drift` gate naming the features that moved (pure functions, no Dagster).

Buckets are those of the earlier month, so the index says how far this month moved from it:
numeric features on last month's deciles, categorical ones on last month's levels with one more
bucket for levels never seen before (a new plan is a move, however small the old levels' change),
and NULL as a bucket of its own in both (a feed starting to send NULLs is a move too).

Numeric bucket edges lie halfway between consecutive distinct deciles (minimum and maximum
included), not on the deciles themselves: a feature whose values sit on a few points (a flag, a
count, days to the end of a monthly contract: 29, 30 or 31 by the month's length) would otherwise
have an edge on its largest point, and half the customers moving from 29 to 30 days would read as a
PSI of 7. Halfway, each point keeps its bucket and a continuous feature still gets ten.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from churn_assets.rules.gates import GateResult

FEATURE_DRIFT = "feature_drift"

# An empty bucket would make the log infinite; the floor of the score PSI (rules/distribution.py).
FLOOR = 1e-6
UNSEEN, NULL = "(level not seen last month)", "(NULL)"


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    kind: str  # "numeric" or "categorical"
    psi: float
    top_buckets: dict[str, tuple[float, float]]
    """The buckets that moved most: label -> (share last month, share this month)."""


def psi_of_shares(expected: np.ndarray, actual: np.ndarray) -> float:
    expected, actual = np.maximum(expected, FLOOR), np.maximum(actual, FLOOR)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def numeric_buckets(
    previous: pd.Series, current: pd.Series, bins: int = 10
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Bucket labels and the share of each month in them: edges halfway between the earlier
    month's distinct deciles (a feature of few values gets one bucket per value), plus NULL."""
    before = pd.to_numeric(previous, errors="coerce").astype(float).to_numpy()
    now = pd.to_numeric(current, errors="coerce").astype(float).to_numpy()
    known = before[~np.isnan(before)]
    # Deciles that are values of the feature (not interpolated between two of its points).
    deciles = np.unique(np.quantile(known, np.linspace(0, 1, bins + 1), method="lower")) if len(known) else np.array([])
    edges = (deciles[:-1] + deciles[1:]) / 2
    labels = [f"<= {edges[0]:g}"] if len(edges) else ["all values"]
    labels += [f"({a:g}, {b:g}]" for a, b in zip(edges[:-1], edges[1:])]
    labels += [f"> {edges[-1]:g}"] if len(edges) else []

    def shares(values: np.ndarray) -> np.ndarray:
        missing = np.isnan(values)
        counts = np.bincount(np.searchsorted(edges, values[~missing], side="left"), minlength=len(labels))
        return np.append(counts, missing.sum()) / max(len(values), 1)

    return [*labels, NULL], shares(before), shares(now)


def categorical_buckets(previous: pd.Series, current: pd.Series) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The earlier month's levels, one bucket for every level it never had, and NULL. Counted per
    distinct value (a month's million rows hold a handful of levels), compared as text."""

    def counts_by_text(values: pd.Series) -> dict[str, int]:
        counts: dict[str, int] = {}
        for value, n in values.value_counts(dropna=True).items():
            if n:  # a categorical's unused categories are counted 0: not levels of the month
                counts[str(value)] = counts.get(str(value), 0) + int(n)
        return counts

    before, now = counts_by_text(previous), counts_by_text(current)
    levels = sorted(before)

    def shares(counts: dict[str, int], values: pd.Series) -> np.ndarray:
        unseen = sum(n for level, n in counts.items() if level not in before)
        known = [counts.get(level, 0) for level in levels]
        return np.array([*known, unseen, int(values.isna().sum())], dtype=float) / max(len(values), 1)

    return [*levels, UNSEEN, NULL], shares(before, previous), shares(now, current)


def feature_drift(
    previous: pd.DataFrame, current: pd.DataFrame, numeric: list[str], categorical: list[str]
) -> list[FeatureDrift]:
    """The PSI of every feature of this month (`current`) against last month's (`previous`), most
    drifted first (ties by name)."""
    results = []
    for kind, features, buckets in (
        ("numeric", numeric, numeric_buckets),
        ("categorical", categorical, categorical_buckets),
    ):
        for feature in features:
            labels, before, now = buckets(previous[feature], current[feature])
            moved = np.argsort(-np.abs(now - before), kind="stable")[:3]
            top = {labels[i]: (round(float(before[i]), 4), round(float(now[i]), 4)) for i in moved}
            results.append(FeatureDrift(feature, kind, psi_of_shares(before, now), top))
    return sorted(results, key=lambda d: (-d.psi, d.feature))


def drift_gate(drifts: list[FeatureDrift], threshold: float, month, previous_month) -> GateResult:
    """`feature_drift`: fails when a feature's PSI exceeds `threshold`, naming every such feature
    with its PSI, most drifted first."""
    above = [d for d in drifts if d.psi > threshold]
    named = ", ".join(f"{d.feature} (PSI {d.psi:.3f})" for d in above)
    if above:
        summary = f"{len(above)} feature(s) moved from {previous_month} to {month} beyond PSI {threshold}: {named}"
    else:
        top = drifts[0] if drifts else None
        summary = f"no feature moved beyond PSI {threshold} from {previous_month} to {month}" + (
            f" (largest: {top.feature}, {top.psi:.3f})" if top else ""
        )
    return GateResult(
        FEATURE_DRIFT,
        not above,
        round(drifts[0].psi, 6) if drifts else None,
        threshold,
        summary,
        {
            "previous_month": str(previous_month),
            "drifted_features": {d.feature: round(d.psi, 4) for d in above},
            "most_drifted": {d.feature: round(d.psi, 4) for d in drifts[:5]},
            "buckets_that_moved_most": {d.feature: d.top_buckets for d in (above or drifts[:1])},
        },
    )

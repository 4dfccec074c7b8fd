"""Scoring a month: every eligible customer of a snapshot scored once by a model version, ranked.
A plain function (the predictions asset calls it); the exclusion rules come from the catalogue."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from churn_assets import modeling
from churn_assets.rules.lists import excluded_mask, rank_scores


@dataclass(frozen=True)
class ScoredMonth:
    """The month's predictions (one row per eligible customer) and who was left out, and why."""

    frame: pd.DataFrame
    eligible_ids: np.ndarray
    excluded_ids: np.ndarray
    excluded_by_rule: dict[str, int]


def snapshot_columns(spec) -> list[str]:
    """The snapshot columns scoring reads: the id, the features, the exclusion flags, the value."""
    value = [spec.value_column] if spec.value_column else []
    return list(dict.fromkeys(["customer_id", *spec.features, *(e.column for e in spec.exclusions), *value]))


def score_month(spec, month: dt.date, snapshot: pd.DataFrame, version) -> ScoredMonth:
    """Score the eligible customers of `snapshot` with registry `version`; rank 1 = highest risk."""
    # One mask per rule (their counts are reported), combined for scoring.
    rule_masks = {f"{r.column} = {r.equals}": excluded_mask(snapshot, [r]).to_numpy() for r in spec.exclusions}
    excluded = np.logical_or.reduce([*rule_masks.values(), np.zeros(len(snapshot), dtype=bool)])
    scores = modeling.score(version.artifact, snapshot, version.feature_schema, rows=~excluded)
    ids = snapshot["customer_id"].to_numpy()
    scores = scores.astype("float64")
    columns = {"model": spec.name, "month": month, "customer_id": ids[~excluded], "score": scores}
    ranked_by = scores
    if spec.value_column:
        # The customer's value and what losing them is expected to cost (the contract refused NULL
        # and negative values, so none is guessed here).
        value = snapshot[spec.value_column].to_numpy(dtype="float64")[~excluded]
        columns.update(value=value, expected_loss=scores * value)
        if spec.rank_by == "expected_loss":
            ranked_by = columns["expected_loss"]
    frame = pd.DataFrame({**columns, "rank": rank_scores(ranked_by, ids[~excluded]), "model_version": version.version})
    return ScoredMonth(
        frame=frame,
        eligible_ids=ids[~excluded],
        excluded_ids=ids[excluded],
        excluded_by_rule={rule: int(mask.sum()) for rule, mask in rule_masks.items()},
    )

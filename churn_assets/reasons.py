"""Why a customer is on the list: the champion's own TreeSHAP contributions (exact, equal to
XGBoost's `pred_contribs`), the features that raise the customer's score most.

A categorical feature is one column of the model (XGBoost's native categories), so its reason is
reported once under its source column with the customer's level. Computed for listed customers
only: the cost grows with the list, not with the customer base.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churn_assets import modeling, treeshap

REASONS = 3
REASON_COLUMNS = [f"reason_{i}_{part}" for i in range(1, REASONS + 1) for part in ("feature", "value", "contribution")]
# Their types in the published table (`churn-assets migrate` adds them to a table written before).
REASON_SQL_TYPES = {c: "DOUBLE" if c.endswith("_contribution") else "VARCHAR" for c in REASON_COLUMNS}


def _booster(artifact: bytes):
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(bytearray(artifact))
    return booster


def shown_value(value) -> str | None:
    """A customer's value of a feature as the list shows it: the level of a category, a number
    without a trailing `.0`; None for a missing value."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    return str(value)


def contributions(artifact: bytes, schema: dict, frame: pd.DataFrame) -> np.ndarray:
    """Each row's contribution of each feature to its score, in log-odds (rows x features; the
    bias column dropped): the model's exact TreeSHAP values, by `churn_assets.treeshap` (the same
    numbers as XGBoost's `pred_contribs`, several times faster) or by XGBoost itself for a model
    that module does not cover."""
    import xgboost as xgb

    if not len(frame):
        return np.zeros((0, len(schema["features"])))
    matrix = modeling.feature_matrix(frame, schema)
    booster = _booster(artifact)
    try:
        return treeshap.contributions(booster, matrix)[:, :-1]
    except treeshap.Unsupported:
        pass
    contribs = booster.predict(xgb.DMatrix(matrix, enable_categorical=True), pred_contribs=True)
    return contribs[:, :-1]


def top_reasons(artifact: bytes, schema: dict, frame: pd.DataFrame, n: int = REASONS) -> pd.DataFrame:
    """For each row of `frame` (its features as the snapshot holds them), up to `n` reasons: the
    features whose contribution raises the score, largest first, with the customer's value and the
    contribution. Columns `reason_<i>_feature`, `reason_<i>_value`, `reason_<i>_contribution`;
    a row with fewer raising features has NULLs in the rest."""
    features = list(schema["features"])
    values = contributions(artifact, schema, frame)
    order = np.argsort(-values, axis=1, kind="stable")[:, :n] if len(values) else np.zeros((0, n), dtype=int)
    out: dict[str, list] = {column: [] for column in REASON_COLUMNS[: 3 * n]}
    raw = {feature: frame[feature].to_numpy(dtype=object) for feature in features}
    for row, picks in enumerate(order):
        for i, feature_index in enumerate(picks, start=1):
            contribution = float(values[row, feature_index])
            raises = contribution > 0
            feature = features[feature_index]
            out[f"reason_{i}_feature"].append(feature if raises else None)
            out[f"reason_{i}_value"].append(shown_value(raw[feature][row]) if raises else None)
            out[f"reason_{i}_contribution"].append(round(contribution, 6) if raises else None)
    result = pd.DataFrame(out, index=frame.index)
    for i in range(1, n + 1):
        result[f"reason_{i}_contribution"] = result[f"reason_{i}_contribution"].astype("float64")
    return result


def reason_counts(reasons: pd.DataFrame) -> dict[str, float]:
    """Share of listed customers that have each feature among their reasons, most common first
    ("62 % of this month's list: days_to_contract_end")."""
    if not len(reasons):
        return {}
    columns = [c for c in reasons.columns if c.endswith("_feature")]
    having = pd.Series(
        [set(row) - {None} for row in reasons[columns].itertuples(index=False, name=None)], index=reasons.index
    )
    counts = pd.Series([f for features in having for f in features]).value_counts()
    return {feature: round(count / len(reasons), 4) for feature, count in counts.items()}

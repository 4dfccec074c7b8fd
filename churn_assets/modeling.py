"""XGBoost training, evaluation and scoring on pandas frames (no Dagster import).

The feature schema (column order, categories seen in training) is stored with each model,
so scoring applies exactly the training-time encoding; a category never seen in training
becomes missing, which XGBoost routes down its learned default branch.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


def threads() -> int:
    """XGBoost threads: $CHURN_TRAIN_THREADS, else every core (OpenMP waits passively: see
    churn_assets/__init__.py, so sharing the machine with other busy processes stays cheap)."""
    value = (os.environ.get("CHURN_TRAIN_THREADS") or "").strip()
    if not value:
        return os.cpu_count() or 1
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"CHURN_TRAIN_THREADS={value!r} must be a positive whole number (XGBoost threads)")
    return int(value)


# Scoring in chunks bounds the memory of the feature matrix on very large months.
SCORING_CHUNK_ROWS = 500_000


@dataclass(frozen=True)
class TrainedModel:
    artifact: bytes
    artifact_sha256: str
    feature_importance: dict[str, float]


def feature_schema(
    frame: pd.DataFrame, features: tuple[str, ...], categorical: tuple[str, ...], rows: np.ndarray | None = None
) -> dict[str, Any]:
    """The encoding learned from training data (`rows` of `frame`, default all): feature order and
    the categories of each categorical."""
    categories = {}
    for column in categorical:
        values = _select(frame[column], rows)
        if isinstance(values.dtype, pd.CategoricalDtype):
            # Only the categories in use: never a string per row.
            seen = values.cat.remove_unused_categories().cat.categories
            categories[column] = sorted({str(value) for value in seen})
        else:
            categories[column] = sorted(values.dropna().astype(str).unique().tolist())
    return {"features": list(features), "categorical": categories}


def feature_matrix(frame: pd.DataFrame, schema: dict[str, Any], rows: np.ndarray | None = None) -> pd.DataFrame:
    """Features of `rows` of `frame` (a boolean mask or positions; default all) as XGBoost wants
    them: float32 numbers and pandas categories with training's levels. Built column by column,
    so only the matrix itself is allocated, never a copy of the frame."""
    columns = {}
    for column in schema["features"]:
        values = _select(frame[column], rows)
        if column in schema["categorical"]:
            columns[column] = _as_training_categories(values, schema["categorical"][column])
        else:
            columns[column] = _as_float32(values)
    return pd.DataFrame(columns)


def _select(values: pd.Series, rows: np.ndarray | None) -> pd.Series:
    return values if rows is None else values.iloc[rows].reset_index(drop=True)


def _as_training_categories(values: pd.Series, categories: list[str]) -> pd.Categorical:
    """Values as a categorical with training's levels in training's order; a value not seen in
    training becomes missing."""
    if isinstance(values.dtype, pd.CategoricalDtype) and all(isinstance(c, str) for c in values.cat.categories):
        # Re-mapping the few categories, not the rows.
        return values.array.set_categories(categories)
    return pd.Categorical(values.astype("string").astype(object), categories=categories)


def _as_float32(values: pd.Series) -> np.ndarray:
    """Numbers, booleans and numeric text as float32; anything unparseable or missing as NaN."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return pd.array(values, dtype="Float64").to_numpy(dtype="float32", na_value=np.nan)
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype="float32", na_value=np.nan)


def train(x: pd.DataFrame, y: np.ndarray, params: dict[str, Any], seed: int) -> TrainedModel:
    """Fit a binary XGBoost classifier; same data, params and seed give the same artifact bytes."""
    import xgboost as xgb  # imported here: keeps the code location's load fast

    classifier = xgb.XGBClassifier(
        **{"tree_method": "hist", "eval_metric": "auc", **params},
        objective="binary:logistic",
        enable_categorical=True,
        random_state=seed,
        n_jobs=threads(),
    )
    classifier.fit(x, y)
    booster = classifier.get_booster()
    artifact = bytes(booster.save_raw("ubj"))
    gain = booster.get_score(importance_type="gain")
    total = sum(gain.values()) or 1.0
    importance = {f: round(gain.get(f, 0.0) / total, 6) for f in x.columns}
    return TrainedModel(artifact, hashlib.sha256(artifact).hexdigest(), importance)


def _booster(artifact: bytes):
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(bytearray(artifact))
    booster.set_param({"nthread": threads()})
    return booster


def score(artifact: bytes, frame: pd.DataFrame, schema: dict[str, Any], rows: np.ndarray | None = None) -> np.ndarray:
    """Scores of `rows` of `frame` (a boolean mask; default all), encoded and scored in chunks of
    SCORING_CHUNK_ROWS: the feature matrix of a whole month is never built."""
    import xgboost as xgb

    booster = _booster(artifact)
    positions = np.arange(len(frame)) if rows is None else np.flatnonzero(rows)
    scores = np.empty(len(positions), dtype=np.float32)
    for start in range(0, len(positions), SCORING_CHUNK_ROWS):
        chunk = feature_matrix(frame, schema, positions[start : start + SCORING_CHUNK_ROWS])
        scores[start : start + len(chunk)] = booster.predict(xgb.DMatrix(chunk, enable_categorical=True))
    return scores


def evaluate(y_true: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Holdout metrics: ROC AUC, PR AUC (average precision), base rate and top-decile lift."""
    from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

    y_true = np.asarray(y_true).astype(int)
    if len(np.unique(y_true)) < 2:
        raise ValueError("the holdout holds a single class: AUC is undefined")
    base_rate = float(y_true.mean())
    top = np.argsort(-scores, kind="stable")[: max(1, len(scores) // 10)]
    fpr, tpr, _ = roc_curve(y_true, scores)
    # About 50 points draw the curve; keeping every threshold would bloat the registry row.
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(len(fpr), 50)).astype(int))
    return {
        "roc_curve": {"fpr": [round(float(v), 4) for v in fpr[keep]], "tpr": [round(float(v), 4) for v in tpr[keep]]},
        "auc": float(roc_auc_score(y_true, scores)),
        "pr_auc": float(average_precision_score(y_true, scores)),
        "base_rate": base_rate,
        "top_decile_lift": float(y_true[top].mean() / base_rate) if base_rate else 0.0,
        "holdout_rows": int(len(y_true)),
    }


def row_order(frame: pd.DataFrame, keys: list[str]) -> np.ndarray:
    """Positions of the rows of `frame` ordered by `keys` (ties keep their order), whatever its index."""
    return frame[keys].reset_index(drop=True).sort_values(keys, kind="stable").index.to_numpy()


def frame_hash(frame: pd.DataFrame, sort_by: list[str]) -> str:
    """Content hash of a frame, independent of row order and column order.

    The value is that of `pd.util.hash_pandas_object` on the frame sorted by `sort_by` with its
    columns in name order, computed one column at a time: only the row order and two arrays of
    64-bit hashes are held, never a sorted copy of the frame.
    """
    order = row_order(frame, sort_by)
    columns = sorted(frame.columns)
    digest = hashlib.sha256(",".join(columns).encode())
    # pandas' combine_hash_arrays, fed column by column (the same multipliers, the same result).
    combined = np.full(len(frame), 0x345678, dtype=np.uint64)
    multiplier = np.uint64(1000003)
    for position, column in enumerate(columns):
        combined ^= pd.util.hash_pandas_object(frame[column], index=False).to_numpy()[order]
        combined *= multiplier
        remaining = len(columns) - position
        multiplier += np.uint64(82520 + remaining + remaining)
    combined += np.uint64(97531)
    digest.update(combined.tobytes())
    return digest.hexdigest()

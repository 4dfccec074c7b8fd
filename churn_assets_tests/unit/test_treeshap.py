"""churn_assets.treeshap gives XGBoost's own TreeSHAP contributions (pred_contribs), faster."""

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from churn_assets import modeling, reasons, treeshap


def world(rows=3000, seed=5):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "tenure_months": rng.integers(1, 72, rows).astype(float),
            "support_calls": rng.poisson(2, rows).astype(float),
            "contract_type": rng.choice(["month-to-month", "one-year", "two-year"], rows),
            "plan": rng.choice(["basic", "standard", "premium", "unlimited"], rows),
            "noise": rng.normal(size=rows),
        }
    )
    # Missing values of both kinds: XGBoost sends them down each split's default branch.
    frame.loc[rng.random(rows) < 0.1, "tenure_months"] = np.nan
    frame.loc[rng.random(rows) < 0.1, "plan"] = None
    logit = (
        -1.0
        + 0.8 * (frame["support_calls"] >= 3)
        - 0.03 * frame["tenure_months"].fillna(20)
        + 1.2 * (frame["contract_type"] == "month-to-month")
        + 0.6 * frame["plan"].isin(["basic", "unlimited"])
    )
    label = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame, label


def booster_and_matrix(params, rows=3000):
    frame, label = world(rows)
    schema = modeling.feature_schema(frame, tuple(frame.columns), ("contract_type", "plan"))
    artifact = modeling.train(modeling.feature_matrix(frame, schema), label, params, seed=7).artifact
    booster = reasons._booster(artifact)
    return booster, modeling.feature_matrix(frame, schema), artifact, schema, frame


@pytest.mark.parametrize(
    "params",
    [
        {"n_estimators": 40, "max_depth": 4, "learning_rate": 0.3},
        # Deep trees on few features: a feature split more than once on one path.
        {"n_estimators": 15, "max_depth": 8, "learning_rate": 0.5, "min_child_weight": 1},
        {"n_estimators": 60, "max_depth": 3, "learning_rate": 0.1, "subsample": 0.8, "colsample_bytree": 0.6},
    ],
)
def test_contributions_equal_xgboosts_own_pred_contribs(params):
    booster, matrix, *_ = booster_and_matrix(params)
    expected = booster.predict(xgb.DMatrix(matrix, enable_categorical=True), pred_contribs=True)
    got = treeshap.contributions(booster, matrix)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=2e-5)
    # Exact: bias + every contribution is the model's margin.
    margin = booster.predict(xgb.DMatrix(matrix, enable_categorical=True), output_margin=True)
    np.testing.assert_allclose(got.sum(axis=1), margin, atol=1e-4)


def test_reasons_use_it_and_fall_back_to_xgboost_for_a_model_it_does_not_explain():
    booster, matrix, artifact, schema, frame = booster_and_matrix({"n_estimators": 20, "max_depth": 3})
    reference = booster.predict(xgb.DMatrix(matrix, enable_categorical=True), pred_contribs=True)[:, :-1]
    np.testing.assert_allclose(reasons.contributions(artifact, schema, frame), reference, atol=2e-5)

    linear = xgb.train(
        {"booster": "gblinear", "objective": "binary:logistic"},
        xgb.DMatrix(matrix[["support_calls", "noise"]], label=np.arange(len(matrix)) % 2),
        num_boost_round=5,
    )
    with pytest.raises(treeshap.Unsupported, match="gblinear"):
        treeshap.contributions(linear, matrix[["support_calls", "noise"]])


def test_a_matrix_in_another_column_order_is_refused():
    booster, matrix, *_ = booster_and_matrix({"n_estimators": 5, "max_depth": 2})
    with pytest.raises(ValueError, match="model's order"):
        treeshap.contributions(booster, matrix[list(reversed(matrix.columns))])

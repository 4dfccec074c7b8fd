"""Reasons per listed customer, from the model's own TreeSHAP contributions."""

import numpy as np
import pandas as pd

from churn_assets import modeling
from churn_assets.reasons import REASON_COLUMNS, reason_counts, shown_value, top_reasons

PARAMS = {"n_estimators": 30, "max_depth": 3, "learning_rate": 0.3}


def trained(frame: pd.DataFrame, label: np.ndarray, categorical=()):
    features = tuple(c for c in frame.columns)
    schema = modeling.feature_schema(frame, features, tuple(categorical))
    model = modeling.train(modeling.feature_matrix(frame, schema), label, PARAMS, seed=7)
    return model.artifact, schema


def world(rows=2000, seed=3):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "tenure_months": rng.integers(1, 72, rows).astype(float),
            "support_calls": rng.poisson(2, rows).astype(float),
            "contract_type": rng.choice(["month-to-month", "one-year", "two-year"], rows),
            "noise": rng.normal(size=rows),
        }
    )


def test_a_feature_that_decides_the_label_is_every_listed_customers_first_reason():
    frame = world()
    label = (frame["support_calls"] >= 4).to_numpy().astype(int)  # decides the label by construction
    artifact, schema = trained(frame, label, categorical=["contract_type"])
    listed = frame[label == 1]
    reasons = top_reasons(artifact, schema, listed)
    assert list(reasons.columns) == REASON_COLUMNS
    assert (reasons["reason_1_feature"] == "support_calls").all()
    # The customer's own value, as the snapshot holds it.
    assert reasons["reason_1_value"].tolist() == [shown_value(v) for v in listed["support_calls"]]
    assert (reasons["reason_1_contribution"] > 0).all()
    assert reason_counts(reasons)["support_calls"] == 1.0


def test_a_categorical_reason_is_its_source_column_with_the_customers_level():
    frame = world()
    label = (frame["contract_type"] == "month-to-month").to_numpy().astype(int)
    artifact, schema = trained(frame, label, categorical=["contract_type"])
    reasons = top_reasons(artifact, schema, frame[label == 1])
    assert (reasons["reason_1_feature"] == "contract_type").all()
    assert (reasons["reason_1_value"] == "month-to-month").all()


def test_only_contributions_that_raise_the_score_count_and_fewer_are_listed_as_missing():
    frame = world()
    label = (frame["support_calls"] >= 4).to_numpy().astype(int)
    artifact, schema = trained(frame, label, categorical=["contract_type"])
    # Customers at the bottom of the ranking: few or no features raise their score.
    reasons = top_reasons(artifact, schema, frame[label == 0].head(200))
    for i in (1, 2, 3):
        named = reasons[f"reason_{i}_feature"].notna()
        assert (reasons.loc[named, f"reason_{i}_contribution"] > 0).all()
        assert reasons.loc[~named, [f"reason_{i}_value", f"reason_{i}_contribution"]].isna().all().all()
    assert reasons["reason_1_feature"].isna().any()  # someone has no raising feature at all


def test_no_listed_customer_no_reasons():
    frame = world(rows=300)
    label = (frame["support_calls"] >= 4).to_numpy().astype(int)
    artifact, schema = trained(frame, label, categorical=["contract_type"])
    reasons = top_reasons(artifact, schema, frame.head(0))
    assert reasons.empty and list(reasons.columns) == REASON_COLUMNS
    assert reason_counts(reasons) == {}

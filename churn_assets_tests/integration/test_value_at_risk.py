"""What is at stake: each listed customer's value and expected loss (score x value), a list ranked
by expected loss when the catalogue says so (and judged as published), and a NULL value refused."""

import duckdb
import numpy as np
import xgboost as xgb

from churn_assets import modeling
from churn_assets.catalog import load_catalog
from churn_assets.reasons import REASON_COLUMNS
from churn_assets.rules.months import add_months
from churn_assets.simulate.incidents import CLEAN, VIEW, _keep_clean_copy
from churn_assets_tests.support.pipeline import END_MONTH, FIRST_MONTH, query, run_pipeline, shipped_catalogue_with


def published(home, month):
    return query(
        home, "SELECT * FROM churn.published_predictions WHERE model = 'churn' AND month = ? ORDER BY rank", [month]
    )


def test_published_rows_carry_the_value_and_expected_loss_of_each_customer(completed_home):
    listed = published(completed_home, END_MONTH)
    snapshot = query(
        completed_home,
        "SELECT customer_id, monthly_charges FROM churn.snapshot_customers WHERE snapshot_month = ?",
        [END_MONTH],
    ).set_index("customer_id")
    assert listed["value"].tolist() == snapshot.loc[listed["customer_id"], "monthly_charges"].tolist()
    np.testing.assert_allclose(listed["expected_loss"], listed["score"] * listed["value"], rtol=1e-9)
    page = (completed_home / "reports" / "churn" / f"{END_MONTH}.html").read_text()
    assert f"{listed['expected_loss'].sum():,.2f}" in page and "value at risk" in page
    # Models without a value column publish none (NULL), never a guessed 0.
    other = query(completed_home, "SELECT count(value) AS n FROM churn.published_predictions WHERE model <> 'churn'")
    assert int(other["n"].iloc[0]) == 0


def test_the_stored_reasons_are_the_three_largest_raising_contributions(completed_home):
    listed = published(completed_home, END_MONTH)
    version = int(listed["model_version"].iloc[0])
    row = query(
        completed_home,
        "SELECT artifact, feature_schema FROM churn.model_versions WHERE model = 'churn' AND version = ?",
        [version],
    ).iloc[0]
    import json

    schema = json.loads(row["feature_schema"])
    snapshot = query(completed_home, "SELECT * FROM churn.snapshot_customers WHERE snapshot_month = ?", [END_MONTH])
    features = snapshot.set_index("customer_id").loc[listed["customer_id"]].reset_index()
    booster = xgb.Booster()
    booster.load_model(bytearray(bytes(row["artifact"])))
    matrix = xgb.DMatrix(modeling.feature_matrix(features, schema), enable_categorical=True)
    contributions = booster.predict(matrix, pred_contribs=True)
    # TreeSHAP is exact: bias + every contribution is the model's margin.
    np.testing.assert_allclose(contributions.sum(axis=1), booster.predict(matrix, output_margin=True), atol=1e-4)
    names = schema["features"]
    for i, customer in enumerate(listed.itertuples()):
        values = contributions[i, :-1]
        raising = [names[j] for j in np.argsort(-values, kind="stable")[:3] if values[j] > 0]
        stored = [getattr(customer, f"reason_{k}_feature") for k in (1, 2, 3)]
        assert stored == raising + [None] * (3 - len(raising)), (customer.customer_id, stored, raising)
        for k, feature in enumerate(raising, start=1):
            assert abs(getattr(customer, f"reason_{k}_contribution") - values[names.index(feature)]) < 1e-5


def test_a_list_ranked_by_expected_loss_is_published_and_judged_as_ranked(fresh_home, tmp_path):
    def by_expected_loss(data):
        data["models"]["churn"]["rank_by"] = "expected_loss"

    catalogue = load_catalog(shipped_catalogue_with(tmp_path, by_expected_loss))
    last = add_months(FIRST_MONTH, 5)
    report = run_pipeline(fresh_home, last=last, catalog=catalogue)
    assert report.all_succeeded
    months = [add_months(FIRST_MONTH, 3), add_months(FIRST_MONTH, 4), last]  # churn's first lists
    lists = {month: published(fresh_home, month) for month in months}
    for month, listed in lists.items():
        assert len(listed), month
        # Ordered by score x value, not by score.
        assert listed["expected_loss"].is_monotonic_decreasing, month
        assert not listed["score"].is_monotonic_decreasing, month
        scored = query(
            fresh_home, "SELECT * FROM churn.predictions WHERE model = 'churn' AND month = ? ORDER BY rank", [month]
        )
        top = scored.head(len(listed))
        assert top["customer_id"].tolist() == listed["customer_id"].tolist()  # the top by expected loss
    # The overlap gate judged the published lists: recomputed from them, it matches the record.
    previous, current = lists[months[1]], lists[last]
    present = set(
        query(fresh_home, "SELECT customer_id FROM churn.predictions WHERE model = 'churn' AND month = ?", [last])[
            "customer_id"
        ]
    )
    still = set(previous["customer_id"]) & present
    expected = len(still & set(current["customer_id"])) / len(still)
    gates = query(
        fresh_home,
        "SELECT gate, passed, value FROM churn.gate_results WHERE asset = 'churn/predictions' AND month = ?",
        [last],
    ).set_index("gate")
    assert abs(float(gates.loc["top_k_overlap", "value"]) - expected) < 1e-9
    assert gates.loc[["coverage", "list_capacity"], "passed"].all()


def test_a_null_value_blocks_the_month_naming_the_column(history_copy):
    with duckdb.connect(str(history_copy / "warehouse.duckdb")) as conn:
        _keep_clean_copy(conn)
        conn.execute(
            f"CREATE OR REPLACE VIEW {VIEW} AS SELECT * REPLACE (CASE WHEN snapshot_month = DATE '{END_MONTH}' "
            f"AND customer_id % 40 = 0 THEN NULL ELSE monthly_charges END AS monthly_charges) FROM {CLEAN}"
        )
    before = query(history_copy, "SELECT count(*) AS n FROM churn.published_predictions")
    report = run_pipeline(history_copy, first=END_MONTH, last=END_MONTH)
    (month,) = report.months
    assert month.contract["customers"] is False
    contract = query(
        history_copy,
        "SELECT summary FROM churn.gate_results WHERE asset = 'customers/snapshot' AND month = ?",
        [END_MONTH],
    )["summary"].iloc[0]
    assert "monthly_charges" in contract and "null" in contract.lower(), contract
    assert query(history_copy, "SELECT count(*) AS n FROM churn.published_predictions").equals(before)
    assert set(REASON_COLUMNS) <= set(published(history_copy, add_months(END_MONTH, -1)).columns)

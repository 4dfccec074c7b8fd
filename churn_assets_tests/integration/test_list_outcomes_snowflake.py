"""Outcomes and feature drift in Snowflake (fakesnow): the same readers and tables as in DuckDB,
judged on the stored tables a local run left, give the same figures."""

import datetime as dt

import pytest

from churn_assets import drift, outcomes
from churn_assets.catalog import load_catalog
from churn_assets.environment import load_environment
from churn_assets.warehouse import outcomes as stored
from churn_assets_tests.support.fake_snowflake import (
    environment_variables,
    fake_snowflake,
    load_source_from_duckdb,
    snowflake_variables,
)
from churn_assets_tests.support.pipeline import query

JUDGED, EVALUATED = dt.date(2024, 12, 1), dt.date(2025, 3, 1)


def test_outcome_and_drift_of_a_month_match_duckdb(completed_home):
    spec = load_catalog().models["churn"]
    with fake_snowflake(), environment_variables(snowflake_variables("dev")):
        load_source_from_duckdb(completed_home / "warehouse.duckdb")
        warehouse = load_environment("dev").warehouse
        previous = dt.date(2024, 11, 1)
        # The stored tables the two steps read, as the local run left them.
        copies = {
            "gate_results": "asset = 'churn/predictions'",
            "predictions": f"month = DATE '{JUDGED}'",
            "published_predictions": f"month = DATE '{JUDGED}'",
            "snapshot_customers": f"snapshot_month IN (DATE '{previous}', DATE '{JUDGED}')",
            "snapshot_manifest": "true",
        }
        for table, where in copies.items():
            warehouse.append_rows(table, query(completed_home, f"SELECT * FROM churn.{table} WHERE {where}"))

        assert outcomes.nothing_to_judge(warehouse, spec, EVALUATED) is None
        judged = outcomes.judge_list(warehouse, spec, EVALUATED)
        outcomes.store_outcome(warehouse, spec, EVALUATED, judged)
        in_snowflake = stored.outcome_history(warehouse, "churn").iloc[0]
        local = query(completed_home, "SELECT * FROM churn.list_outcomes WHERE month = ?", [JUDGED]).iloc[0]
        assert in_snowflake["month"] == JUDGED and in_snowflake["evaluated_month"] == EVALUATED
        for column in ("listed", "positives_listed", "scored_with_label", "positives", "model_version"):
            assert int(in_snowflake[column]) == int(local[column]), column
        for column in ("precision", "base_rate", "lift", "recall", "auc"):
            assert float(in_snowflake[column]) == pytest.approx(float(local[column])), column

        month_drift = drift.month_drift(warehouse, spec, JUDGED)
        drift.store_drift(warehouse, spec, JUDGED, month_drift)
        psi = stored.month_drift(warehouse, "churn", JUDGED).set_index("feature")["psi"]
        local_psi = query(
            completed_home, "SELECT feature, psi FROM churn.feature_drift WHERE month = ?", [JUDGED]
        ).set_index("feature")["psi"]
        assert psi.to_dict() == pytest.approx(local_psi.to_dict())

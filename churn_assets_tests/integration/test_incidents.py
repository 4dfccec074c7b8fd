"""Every incident of the sample business ends in a named failed gate; nothing is published for
that month and every earlier month is unchanged. An honest month passes every gate."""

import pandas as pd
import pytest
from dagster import AssetCheckKey, AssetKey, DagsterInstance

from churn_assets.simulate.incidents import INCIDENTS, apply_incident
from churn_assets_tests.conftest import END_MONTH, query, run_pipeline

# incident -> (asset whose gate fails, gate, text the gate's description must contain)
EXPECTED = {
    "missing-column": ("customers/snapshot", "data_contract", "tenure_months"),
    "renamed-column": ("customers/snapshot", "data_contract", "tenure_months"),
    "null-ids": ("customers/snapshot", "data_contract", "customer_id"),
    "duplicate-ids": ("customers/snapshot", "data_contract", "customer_id"),
    "empty-month": ("customers/snapshot", "data_contract", "row count 0"),
    "volume-drop": ("customers/snapshot", "data_contract", "row count"),
    "unit-change": ("customers/snapshot", "data_contract", "monthly_charges"),
    "scrambled-ids": ("churn/predictions", "top_k_overlap", "listed again"),
    "excluded-customers-listed": ("customers/snapshot", "data_contract", "do_not_contact"),
}


def test_every_incident_has_an_expectation():
    assert set(EXPECTED) == set(INCIDENTS)


def latest_evaluation(home, asset: str, check: str):
    instance = DagsterInstance.local_temp(str(home / "dagster"))
    key = AssetCheckKey(AssetKey(asset.split("/")), check)
    record = instance.event_log_storage.get_latest_asset_check_execution_by_key([key]).get(key)
    return record.event.dagster_event.event_specific_data if record and record.event else None


def published(home):
    return query(home, "SELECT * FROM churn.published_predictions ORDER BY month, rank")


@pytest.mark.parametrize("incident", list(EXPECTED))
def test_incident_stops_the_month_at_its_gate(history_copy, incident):
    asset, gate, words = EXPECTED[incident]
    before = published(history_copy)
    apply_incident(str(history_copy / "warehouse.duckdb"), incident, END_MONTH)

    report = run_pipeline(history_copy, first=END_MONTH, last=END_MONTH)

    assert not report.all_succeeded
    evaluation = latest_evaluation(history_copy, asset, gate)
    assert evaluation is not None and not evaluation.passed, f"{incident}: {asset}:{gate} did not fail"
    assert words in evaluation.description, evaluation.description
    # Nothing published for the month; every earlier month byte-identical.
    after = published(history_copy)
    assert END_MONTH not in set(pd.to_datetime(after["month"]).dt.date)
    pd.testing.assert_frame_equal(before, after)


def test_an_honest_month_passes_every_gate(history_copy):
    report = run_pipeline(history_copy, first=END_MONTH, last=END_MONTH)
    assert report.all_succeeded
    gates = {
        "customers/snapshot": ["data_contract"],
        "churn/model": ["holdout_auc", "not_worse_than_champion"],
        "churn/predictions": ["top_k_overlap", "predicted_rate", "score_psi", "coverage", "list_capacity"],
    }
    for asset, checks in gates.items():
        for check in checks:
            evaluation = latest_evaluation(history_copy, asset, check)
            assert evaluation is not None and evaluation.passed, (asset, check, evaluation and evaluation.description)
            assert "value" in evaluation.metadata or check == "data_contract"
    assert END_MONTH in set(pd.to_datetime(published(history_copy)["month"]).dt.date)

"""The bad-input matrix: every kind of bad source data ends in a named failed gate or a clear
error, nothing is published for that month, every earlier month is byte-identical, and the alert
webhook hears about it. An honest month passes every gate. The matrix is printed at the end."""

import pandas as pd
import pytest
from dagster import DagsterEventType, build_run_status_sensor_context, build_sensor_context

from churn_assets import alerts
from churn_assets.definitions import build_definitions
from churn_assets.simulate.incidents import INCIDENTS, apply_incident
from churn_assets_tests.support.pipeline import (
    END_MONTH,
    churn_home,
    dagster_instance,
    latest_evaluation,
    query,
    run_pipeline,
)

SNAPSHOT = "customers/snapshot"
# incident -> what must stop it: ("gate", asset, check, words in its description) or ("error", words)
# or ("passes",) for data that is new but valid, or ("warns", asset, check, words) for valid data
# that is published while a warning gate names what moved.
EXPECTED = {
    "missing-column": ("gate", SNAPSHOT, "data_contract", "tenure_months"),
    "renamed-column": ("gate", SNAPSHOT, "data_contract", "tenure_months"),
    "mistyped-column": ("gate", SNAPSHOT, "data_contract", "monthly_charges"),
    "null-ids": ("gate", SNAPSHOT, "data_contract", "customer_id"),
    "duplicate-ids": ("gate", SNAPSHOT, "data_contract", "customer_id"),
    "malformed-ids": ("error", "CUST-"),
    "empty-month": ("gate", SNAPSHOT, "data_contract", "row count 0"),
    "volume-drop": ("gate", SNAPSHOT, "data_contract", "row count"),
    "out-of-range": ("gate", SNAPSHOT, "data_contract", "tenure_months"),
    "infinite-values": ("gate", SNAPSHOT, "data_contract", "monthly_charges"),
    "constant-feature": ("gate", SNAPSHOT, "data_contract", "satisfaction_score"),
    "unit-change": ("gate", SNAPSHOT, "data_contract", "monthly_charges"),
    "future-rows": ("gate", SNAPSHOT, "data_contract", "dated after"),
    "immature-labels": ("gate", SNAPSHOT, "data_contract", "churned_within_3m"),
    "excluded-customers-listed": ("gate", SNAPSHOT, "data_contract", "do_not_contact"),
    "scrambled-ids": ("gate", "churn/predictions", "top_k_overlap", "listed again"),
    "unseen-category": ("passes",),
    "feature-shift": ("warns", "churn/feature_drift", "feature_drift", "avg_session_minutes (PSI"),
}
MATRIX: list[tuple[str, str, str, str, str]] = []


def test_every_incident_has_an_expectation():
    assert set(EXPECTED) == set(INCIDENTS)


def format_matrix() -> list[str]:
    """The matrix as text lines (printed by conftest's terminal summary)."""
    header = ("bad input", "stopped by", "published", "earlier months", "alert")
    rows = [header, *sorted(MATRIX)]
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(header))]
    return [f"Bad-input matrix (month {END_MONTH}):"] + [
        "  " + "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)) for row in rows
    ]


def published(home):
    return query(home, "SELECT * FROM churn.published_predictions ORDER BY month, rank")


def alerts_sent(home, run_id, receiver) -> int:
    """Run both alert sensors over the instance; how many notifications the webhook received."""
    with churn_home(home):
        sensors = {s.name: s for s in build_definitions().sensors}
    notifier = alerts.notifier_from_environment()
    instance = dagster_instance(home)
    # From the first evaluation (a new sensor would start from now): the month's failed gate is alerted
    # by the gate sensor; its run, stopped by the gate, is not alerted again.
    context = build_sensor_context(instance=instance, cursor="0", resources={"alerts": notifier})
    sensors["gate_failure_alerts"].evaluate_tick(context)
    failure = instance.get_records_for_run(run_id, of_type=DagsterEventType.RUN_FAILURE).records
    if failure:
        run_context = build_run_status_sensor_context(
            sensor_name="run_failure_alerts",
            dagster_event=failure[0].event_log_entry.dagster_event,
            dagster_instance=instance,
            dagster_run=instance.get_run_by_id(run_id),
            resources={"alerts": notifier},
        ).for_run_failure()
        sensors["run_failure_alerts"](run_context)
    return len([body for body in receiver.on("/hook") if body["month"] == str(END_MONTH)])


@pytest.fixture
def as_of_the_month_after(monkeypatch):
    """Replay the run as the pipeline sees it: right after END_MONTH closed."""
    monkeypatch.setenv("CHURN_TODAY", str(END_MONTH.replace(month=END_MONTH.month + 1, day=15)))


@pytest.mark.parametrize("incident", list(EXPECTED))
def test_bad_input_is_stopped(history_copy, incident, as_of_the_month_after, receiver):
    expected = EXPECTED[incident]
    before = published(history_copy)
    apply_incident(str(history_copy / "warehouse.duckdb"), incident, END_MONTH)

    report = run_pipeline(history_copy, first=END_MONTH, last=END_MONTH)
    outcome, row = report.months[0], report.months[0].models[0]
    after = published(history_copy)
    this_month = after[pd.to_datetime(after["month"]).dt.date == END_MONTH]
    earlier = after[pd.to_datetime(after["month"]).dt.date != END_MONTH].reset_index(drop=True)
    pd.testing.assert_frame_equal(before, earlier)  # earlier months byte-identical, whatever happened

    if expected[0] == "passes":
        assert outcome.success and len(this_month), row.status
        MATRIX.append((incident, "nothing: valid data, scored", f"{len(this_month)} rows", "unchanged", "-"))
        return
    if expected[0] == "warns":
        _, asset, check, words = expected
        assert outcome.success and len(this_month), row.status
        evaluation = latest_evaluation(history_copy, asset, check)
        assert evaluation is not None and not evaluation.passed, f"{incident}: {asset}:{check} did not warn"
        assert words in evaluation.description, evaluation.description
        sent = alerts_sent(history_copy, outcome.run_id, receiver)
        assert sent >= 1
        MATRIX.append((incident, f"warned by {asset}:{check}", f"{len(this_month)} rows", "unchanged", f"{sent} sent"))
        return
    assert not outcome.success and this_month.empty, row.status
    if expected[0] == "gate":
        _, asset, check, words = expected
        evaluation = latest_evaluation(history_copy, asset, check)
        assert evaluation is not None and not evaluation.passed, f"{incident}: {asset}:{check} did not fail"
        assert words in evaluation.description, evaluation.description
        stopped_by = f"{asset}:{check}"
    else:
        assert expected[1] in (row.error or ""), row.error
        stopped_by = "error: " + (row.error or "")[:60]
    sent = alerts_sent(history_copy, outcome.run_id, receiver)
    assert sent >= 1
    MATRIX.append((incident, stopped_by, "nothing", "unchanged", f"{sent} sent"))


def test_an_honest_month_passes_every_gate(history_copy, as_of_the_month_after):
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
    assert END_MONTH in set(pd.to_datetime(published(history_copy)["month"]).dt.date)
    MATRIX.append(("(honest month)", "nothing: every gate passed", "published", "unchanged", "-"))

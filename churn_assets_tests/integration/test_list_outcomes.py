"""Did last month's list work? The realised outcome of every published list once its labels have
matured (`<model>/list_outcome`, gate `realised_lift`) and the drift of every feature
(`<model>/feature_drift`, gate `feature_drift`), on the sample business run month by month."""

import dataclasses
import datetime as dt
import json
import urllib.request

import numpy as np
import pandas as pd
import pytest
from dagster import AssetCheckKey, DagsterInstance
from sklearn.metrics import roc_auc_score

from churn_assets import predicting
from churn_assets.catalog import load_catalog
from churn_assets.keys import model_key
from churn_assets.rules.lists import rank_scores
from churn_assets.rules.months import add_months, month_range
from churn_assets.simulate.incidents import apply_incident
from churn_assets_tests.support.alerting import sensors, ticks_until_quiet
from churn_assets_tests.support.pipeline import (
    END_MONTH,
    FIRST_MONTH,
    cli,
    dagster_instance,
    latest_evaluation,
    query,
    run_pipeline,
)
from churn_assets_tests.support.ui import CHECK_STATUSES, graphql, shown_status

HORIZON = 3  # churn's horizon_months in the shipped catalogue
OUTCOME, DRIFT = model_key("churn", "list_outcome"), model_key("churn", "feature_drift")


def months_of(frame: pd.DataFrame, column: str = "month") -> list[dt.date]:
    return [pd.Timestamp(m).date() for m in frame[column]]


def test_outcomes_exist_for_exactly_the_matured_lists_and_match_the_source(completed_home):
    published = months_of(query(completed_home, "SELECT DISTINCT month FROM churn.published_predictions ORDER BY 1"))
    matured = [m for m in published if add_months(m, HORIZON) <= END_MONTH]
    assert len(matured) == 4 and len(published) > len(matured)  # the last three lists have not matured
    stored = query(completed_home, "SELECT * FROM churn.list_outcomes WHERE model = 'churn' ORDER BY month")
    assert months_of(stored) == matured
    assert months_of(stored, "evaluated_month") == [add_months(m, HORIZON) for m in matured]
    assert months_of(stored, "list_month") == matured  # no month was blocked: each list is its own month's

    for row in stored.itertuples():
        # Recomputed here from the source's labels and the stored rows, not from the pipeline's code.
        scored = query(
            completed_home,
            "SELECT p.customer_id, p.score, l.churned_within_3m AS label, p.rank <= (SELECT max(rank) FROM "
            "churn.published_predictions WHERE model = 'churn' AND month = p.month) AS listed "
            "FROM churn.predictions p JOIN analytics.customer_features_monthly l "
            "ON l.customer_id = p.customer_id AND l.snapshot_month = p.month "
            "WHERE p.model = 'churn' AND p.month = ? AND l.churned_within_3m IS NOT NULL",
            [row.month],
        )
        listed = query(
            completed_home,
            "SELECT avg(l.churned_within_3m::DOUBLE) AS precision, sum(l.churned_within_3m) AS positives, "
            "count(*) AS n, any_value(p.model_version) AS version FROM churn.published_predictions p "
            "JOIN analytics.customer_features_monthly l "
            "ON l.customer_id = p.customer_id AND l.snapshot_month = p.month WHERE p.model = 'churn' AND p.month = ?",
            [row.month],
        ).iloc[0]
        base_rate = scored["label"].mean()
        assert row.listed == listed["n"] and row.positives_listed == listed["positives"]
        assert row.model_version == listed["version"]
        assert row.precision == pytest.approx(listed["precision"])
        assert row.base_rate == pytest.approx(base_rate)
        assert row.lift == pytest.approx(listed["precision"] / base_rate)
        assert row.recall == pytest.approx(listed["positives"] / scored["label"].sum())
        assert row.auc == pytest.approx(roc_auc_score(scored["label"], scored["score"]))
        assert row.lift > 2 and row.passed  # the honest model's lists work

    # Every month materialised; those with no matured list say why, and their gate was not planned.
    instance = dagster_instance(completed_home)
    evaluated = {}
    for record in instance.event_log_storage.get_asset_check_execution_history(
        AssetCheckKey(OUTCOME, "realised_lift"), limit=100
    ):
        evaluated.setdefault(record.partition, []).append(record.status.value)
    assert evaluated == {str(add_months(m, HORIZON)): ["SUCCEEDED"] for m in matured}
    early = instance.get_latest_materialization_event(OUTCOME)  # END_MONTH: judged
    assert early.asset_materialization.partition == str(END_MONTH)
    reasons = {
        record.partition_key: record.asset_materialization.metadata
        for record in instance.fetch_materializations(OUTCOME, limit=100).records
    }
    assert set(reasons) == {str(m) for m in month_range(FIRST_MONTH, END_MONTH)}
    assert reasons[str(FIRST_MONTH)]["evaluated"].value is False
    assert "no list was in force" in reasons[str(FIRST_MONTH)]["reason"].value
    assert reasons[str(END_MONTH)]["lift"].value == pytest.approx(stored["lift"].iloc[-1])


def test_feature_drift_passes_every_honest_month_and_is_kept_per_feature(completed_home):
    gates = query(
        completed_home,
        "SELECT month, passed, severity, value FROM churn.gate_results WHERE asset = 'churn/feature_drift' "
        "ORDER BY month",
    )
    assert months_of(gates) == month_range(add_months(FIRST_MONTH, 1), END_MONTH)  # the first has no month before
    assert gates["passed"].all() and set(gates["severity"]) == {"WARN"}
    drift = query(completed_home, "SELECT month, feature, psi, drifted FROM churn.feature_drift WHERE model = 'churn'")
    features = load_catalog().models["churn"].features
    assert (drift.groupby("month")["feature"].apply(set) == set(features)).all()
    assert not drift["drifted"].any() and drift["psi"].max() < 0.25
    # The gate's value is the month's largest PSI, as stored per feature.
    largest = drift.groupby("month")["psi"].max()
    for row in gates.itertuples():
        assert json.loads(row.value) == pytest.approx(largest[pd.Timestamp(row.month)], abs=1e-6)


def test_the_report_shows_how_earlier_lists_did(completed_home):
    page = (completed_home / "reports" / "churn" / f"{END_MONTH}.html").read_text()
    earlier = page[page.index("How earlier lists did") : page.index("Features that moved most")]
    assert earlier.count("data:image/svg+xml;base64,") == 2  # lift, and precision against the base rate
    stored = query(completed_home, "SELECT month, lift FROM churn.list_outcomes ORDER BY month")
    for row in stored.itertuples():
        assert f"<td>{pd.Timestamp(row.month).date()}</td>" in earlier and f"<td>{row.lift:.2f}</td>" in earlier
    for month in month_range(add_months(END_MONTH, -HORIZON + 1), END_MONTH):
        assert f"not matured yet: judged in the run of {add_months(month, HORIZON)}" in earlier
    drifted = page[page.index("Features that moved most") :]
    top = query(
        completed_home,
        "SELECT feature FROM churn.feature_drift WHERE month = ? ORDER BY psi DESC LIMIT 5",
        [END_MONTH],
    )["feature"]
    positions = [drifted.index(f"<td>{feature}</td>") for feature in top]
    assert positions == sorted(positions)  # the five most drifted, most drifted first


def test_stakeholders_query_outcomes_and_drift_with_churn_assets_sql(completed_copy):
    shown = cli(
        completed_copy,
        "sql",
        "SELECT month, round(lift, 2) AS lift FROM churn.list_outcomes WHERE model = 'churn' ORDER BY month",
    )
    assert shown.returncode == 0, shown.stderr
    assert "2024-12-01" in shown.stdout and "2025-03-01" in shown.stdout and "2025-04-01" not in shown.stdout
    shown = cli(completed_copy, "sql", "SELECT count(DISTINCT feature) AS n FROM churn.feature_drift")
    assert shown.returncode == 0 and "21" in shown.stdout, shown.stdout


def test_feature_drift_names_the_shifted_feature_first(history_copy):
    apply_incident(str(history_copy / "warehouse.duckdb"), "feature-shift", END_MONTH)
    report = run_pipeline(history_copy, first=END_MONTH, last=END_MONTH)
    # Valid data: the list is published; the warning names what moved.
    assert report.all_succeeded and report.months[0].models[0].published, report.months[0].models[0].status
    evaluation = latest_evaluation(history_copy, "churn/feature_drift", "feature_drift")
    assert evaluation is not None and not evaluation.passed and evaluation.severity.value == "WARN"
    drifted = evaluation.metadata["drifted_features"].value
    assert list(drifted) == ["avg_session_minutes"] and drifted["avg_session_minutes"] > 0.25
    assert "avg_session_minutes (PSI" in evaluation.description
    top = query(
        history_copy,
        "SELECT feature, drifted FROM churn.feature_drift WHERE month = ? ORDER BY psi DESC LIMIT 2",
        [END_MONTH],
    )
    assert top["feature"].tolist()[0] == "avg_session_minutes" and top["drifted"].tolist() == [True, False]


def random_lists(real):
    """A test double of the scoring: the model's own scores, handed out to customers in an order
    that ignores their risk (a fixed draw per customer plus a smaller one per month), so the lists
    move month to month as honest ones do and every score statistic stays the model's."""

    def scored(spec, month, snapshot, version):
        honest = real(spec, month, snapshot, version)
        frame = honest.frame.copy()
        ids = frame["customer_id"].to_numpy()
        fixed = (ids.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)).astype(float) / 2.0**64
        place = fixed + 0.3 * np.random.default_rng(month.toordinal()).random(len(ids))
        order = np.argsort(-place, kind="stable")
        scores = np.empty(len(ids))
        scores[order] = np.sort(frame["score"].to_numpy())[::-1]
        frame["score"] = scores
        frame["rank"] = rank_scores(scores, ids)
        return dataclasses.replace(honest, frame=frame)

    return scored


def test_random_lists_pass_every_gate_before_publishing_then_fail_realised_lift_once(fresh_home, monkeypatch, receiver):
    monkeypatch.setattr(predicting, "score_month", random_lists(predicting.score_month))
    first_list, judged_in = add_months(FIRST_MONTH, HORIZON), add_months(FIRST_MONTH, 2 * HORIZON)
    report = run_pipeline(fresh_home, last=judged_in)
    # Every list was published: the gates before publishing cannot tell a random list from a good one.
    assert report.all_succeeded
    for month in month_range(first_list, judged_in):
        row = report.months[month_range(FIRST_MONTH, judged_in).index(month)].models[0]
        assert row.published, (month, row.status)
    gates = query(fresh_home, "SELECT month, gate, passed FROM churn.gate_results WHERE asset = 'churn/predictions'")
    assert gates["passed"].all() and len(gates) == 5 * len(month_range(first_list, judged_in))

    # Three months later the first list is judged: no better than customers drawn at random.
    outcome = query(fresh_home, "SELECT * FROM churn.list_outcomes").iloc[0]
    assert pd.Timestamp(outcome["month"]).date() == first_list and outcome["lift"] < 1.5 and not outcome["passed"]
    evaluation = latest_evaluation(fresh_home, "churn/list_outcome", "realised_lift")
    assert not evaluation.passed and evaluation.severity.value == "WARN"
    assert evaluation.metadata["value"].value == pytest.approx(outcome["lift"], abs=1e-4)
    assert evaluation.metadata["threshold"].value == 1.5
    assert evaluation.metadata["list_month"].value == str(first_list)

    # The gate sensor sends it once, naming the list's month and model version.
    instance = DagsterInstance.local_temp(str(fresh_home / "dagster"))
    defs, notifier = sensors(fresh_home)
    cursor = ticks_until_quiet(defs["gate_failure_alerts"], instance, notifier, "0")
    hooks = receiver.on("/hook")
    assert [h["check"] for h in hooks] == ["realised_lift"], hooks
    note = hooks[0]
    assert note["model"] == "churn" and note["month"] == str(judged_in) and note["severity"] == "WARN"
    assert f"list of {first_list}, model v{int(outcome['model_version'])}" in note["summary"]
    assert note["value"] < note["threshold"] == 1.5
    ticks_until_quiet(defs["gate_failure_alerts"], instance, notifier, cursor)
    assert len(receiver.on("/hook")) == 1


def test_lineage_shows_the_outcome_downstream_of_the_list_it_judges(webserver):
    url, _ = webserver
    data = graphql(
        url,
        """{ assetNodes { assetKey { path } dependencyKeys { path }
        dependencies { asset { assetKey { path } } partitionMapping { className description } }
        assetChecksOrError { ... on AssetChecks { checks { name blocking } } } } }""",
    )
    nodes = {"/".join(n["assetKey"]["path"]): n for n in data["assetNodes"]}
    for model in load_catalog().models:
        outcome = nodes[f"{model}/list_outcome"]
        mappings = {"/".join(d["asset"]["assetKey"]["path"]): d["partitionMapping"] for d in outcome["dependencies"]}
        assert set(mappings) == {f"{model}/published_predictions", f"{model}/predictions"}
        assert mappings[f"{model}/published_predictions"]["className"] == "TimeWindowPartitionMapping"
        checks = outcome["assetChecksOrError"]["checks"]
        assert checks == [{"name": "realised_lift", "blocking": False}]
        drift = nodes[f"{model}/feature_drift"]
        assert {"/".join(d["path"]) for d in drift["dependencyKeys"]} == {"customers/snapshot"}
        assert drift["assetChecksOrError"]["checks"] == [{"name": "feature_drift", "blocking": False}]
        report_parents = {"/".join(d["path"]) for d in nodes[f"{model}/monthly_report"]["dependencyKeys"]}
        assert {f"{model}/list_outcome", f"{model}/feature_drift"} <= report_parents

    # The outcome's metadata in the UI: the figures, and lift over the months judged as a chart.
    latest = graphql(
        url,
        """{ assetOrError(assetKey: {path: ["churn", "list_outcome"]}) { ... on Asset {
        assetMaterializations(limit: 1) { partition metadataEntries { label
          ... on FloatMetadataEntry { floatValue } ... on MarkdownMetadataEntry { mdStr } } } } } }""",
    )["assetOrError"]["assetMaterializations"][0]
    entries = {e["label"]: e for e in latest["metadataEntries"]}
    assert latest["partition"] == str(END_MONTH)
    assert entries["lift"]["floatValue"] > 1.5 and 0 < entries["precision"]["floatValue"] < 1
    assert entries["lift_over_months"]["mdStr"].startswith("![Realised lift of each list](data:image/svg+xml;base64,")

    # Each looking-back gate shows its latest outcome ("Passed"), never "Skipped" for the months
    # that had nothing to judge.
    for key, name in ((["churn", "list_outcome"], "realised_lift"), (["churn", "feature_drift"], "feature_drift")):
        request = urllib.request.Request(
            url + "/graphql",
            data=json.dumps({"query": CHECK_STATUSES, "variables": {"key": {"path": key}}}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            node = json.loads(response.read())["data"]["assetNodeOrError"]
        (check,) = node["assetChecksOrError"]["checks"]
        assert check["name"] == name and shown_status(check) == "Passed", check


def test_your_own_data_gets_outcomes_and_drift_with_no_further_key(tmp_path):
    """The README's own-data catalogue names neither threshold: both gates run on their defaults."""
    from churn_assets_tests.support.panels import MONTHS, growth_panel, panel_catalogue

    growth_panel(tmp_path)
    catalogue = panel_catalogue(tmp_path)
    assert "min_realised_lift" not in catalogue.read_text() and "max_feature_psi" not in catalogue.read_text()
    spec = load_catalog(catalogue).models["panel_churn"]
    assert (spec.gates.min_realised_lift, spec.gates.max_feature_psi) == (1.5, 0.25)
    report = run_pipeline(tmp_path, models=["panel_churn"], catalog=load_catalog(catalogue))
    assert report.all_succeeded, [m.models[0].status for m in report.months]

    # Horizon 1: the lists of March and April are judged in April and May; May's labels are blank.
    outcome = query(tmp_path, "SELECT * FROM churn.list_outcomes ORDER BY month")
    assert [str(m)[:10] for m in outcome["month"]] == MONTHS[2:4]
    assert (outcome["min_realised_lift"] == 1.5).all() and (outcome["lift"] > 1.5).all()
    assert (
        outcome["listed"].tolist()
        == query(
            tmp_path,
            "SELECT count(*) AS n FROM churn.published_predictions WHERE month IN (?, ?) GROUP BY month ORDER BY month",
            MONTHS[2:4],
        )["n"].tolist()
    )
    gates = query(
        tmp_path,
        "SELECT asset, month, threshold FROM churn.gate_results WHERE asset LIKE 'panel_churn/%' ORDER BY 1, 2",
    )
    thresholds = gates.groupby("asset")["threshold"].agg(set).to_dict()
    assert thresholds["panel_churn/list_outcome"] == {"1.5"} and thresholds["panel_churn/feature_drift"] == {"0.25"}
    drifted = query(tmp_path, "SELECT DISTINCT month, feature FROM churn.feature_drift")
    assert len(drifted) == len(MONTHS[1:]) * len(spec.features)


def test_the_list_a_blocked_months_run_left_unjudged_is_judged_by_the_next_month(fresh_home):
    """A gate that blocks month E skips every step downstream of it in E's run, the outcome too (its
    edge to the list of E-horizon is wired within the run): the run of E+1 judges that list as well,
    whichever way the months run (the outcome reads what is stored, not how it got there)."""
    blocked = add_months(END_MONTH, -1)
    apply_incident(str(fresh_home / "warehouse.duckdb"), "volume-drop", blocked)
    report = run_pipeline(fresh_home)
    assert [m.month for m in report.months if not m.success] == [blocked]
    stored = query(fresh_home, "SELECT month, evaluated_month, passed FROM churn.list_outcomes ORDER BY month")
    skipped = add_months(blocked, -HORIZON)
    assert months_of(stored) == month_range(add_months(FIRST_MONTH, HORIZON), add_months(END_MONTH, -HORIZON))
    evaluated = dict(zip(months_of(stored), months_of(stored, "evaluated_month")))
    assert evaluated[skipped] == END_MONTH and evaluated[add_months(END_MONTH, -HORIZON)] == END_MONTH
    evaluation = latest_evaluation(fresh_home, "churn/list_outcome", "realised_lift")
    assert evaluation.passed and list(evaluation.metadata["also_judged"].value) == [str(skipped)]
    assert f"Also judged: list of {skipped}" in evaluation.description


def test_a_blocked_months_outcome_is_that_of_the_list_in_force(completed_copy):
    """When month M was blocked, the business kept the list in force: that list is judged on M's labels,
    over the customers it scored who are still there at M."""
    import duckdb

    from churn_assets import outcomes
    from churn_assets.environment import load_environment
    from churn_assets_tests.support.pipeline import churn_home

    blocked, in_force = dt.date(2025, 2, 1), dt.date(2025, 1, 1)
    with duckdb.connect(str(completed_copy / "warehouse.duckdb")) as conn:
        conn.execute(
            "UPDATE churn.gate_results SET passed = false WHERE asset = 'churn/predictions' AND month = ? "
            "AND gate = 'score_psi'",
            [blocked],
        )
    with churn_home(completed_copy):
        judged = outcomes.judge_list(
            load_environment("local").warehouse, load_catalog().models["churn"], add_months(blocked, HORIZON)
        )
    assert (judged.month, judged.list_month) == (blocked, in_force)
    expected = query(
        completed_copy,
        "SELECT avg(l.churned_within_3m::DOUBLE) FILTER (WHERE p.customer_id IN (SELECT customer_id FROM "
        "churn.published_predictions WHERE model = 'churn' AND month = ?)) AS precision, "
        "avg(l.churned_within_3m::DOUBLE) AS base_rate FROM churn.predictions p "
        "JOIN churn.snapshot_customers s ON s.customer_id = p.customer_id AND s.snapshot_month = ? "
        "JOIN analytics.customer_features_monthly l ON l.customer_id = p.customer_id AND l.snapshot_month = ? "
        "WHERE p.model = 'churn' AND p.month = ? AND l.churned_within_3m IS NOT NULL",
        [in_force, blocked, blocked, in_force],
    ).iloc[0]
    assert judged.outcome.precision == pytest.approx(expected["precision"])
    assert judged.outcome.lift == pytest.approx(expected["precision"] / expected["base_rate"])
    assert f"list of {in_force} (in force at {blocked})" in judged.gate.summary

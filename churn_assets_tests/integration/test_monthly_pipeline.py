"""The monthly pipeline end to end on a real DuckDB file and a real Dagster instance."""

import math

import pandas as pd

from churn_assets.catalog import load_catalog
from churn_assets.rules.months import add_months
from churn_assets.simulate.incidents import apply_incident, reset
from churn_assets_tests.support.pipeline import END_MONTH, FIRST_MONTH, query, run_pipeline

CHURN = load_catalog().models["churn"]
FIRST_TRAINABLE = add_months(FIRST_MONTH, CHURN.horizon_months)


def published(home):
    return query(home, "SELECT * FROM churn.published_predictions ORDER BY model, month, rank")


def test_every_trainable_month_publishes_one_complete_list(completed_home):
    lists = published(completed_home)
    months = sorted(pd.to_datetime(lists["month"]).dt.date.unique())
    expected = []
    m = FIRST_TRAINABLE
    while m <= END_MONTH:
        expected.append(m)
        m = add_months(m, 1)
    assert months == expected

    for month, rows in lists.groupby("month"):
        eligible = query(
            completed_home,
            "SELECT count(*) AS n FROM churn.snapshot_customers WHERE snapshot_month = ? "
            "AND account_status <> 'cancelled' AND NOT do_not_contact",
            [month],
        )["n"].iloc[0]
        assert len(rows) == math.ceil(eligible * CHURN.list_top_fraction)
        assert rows["rank"].tolist() == list(range(1, len(rows) + 1))
        assert rows["customer_id"].is_unique
        assert rows["score"].is_monotonic_decreasing
        assert rows["model_version"].nunique() == 1


def test_no_excluded_customer_is_ever_listed(completed_home):
    leaked = query(
        completed_home,
        "SELECT p.month, p.customer_id FROM churn.published_predictions p "
        "JOIN churn.snapshot_customers s ON s.customer_id = p.customer_id AND s.snapshot_month = p.month "
        "WHERE s.do_not_contact OR s.account_status = 'cancelled'",
    )
    assert leaked.empty


def test_every_published_version_is_in_the_registry_with_its_lineage(completed_home):
    versions = query(completed_home, "SELECT * FROM churn.model_versions")
    used = published(completed_home)["model_version"].unique()
    assert set(used) <= set(versions["version"])
    for _, v in versions.iterrows():
        assert len(v["artifact"]) > 1000 and len(v["artifact_sha256"]) == 64
        assert '"auc"' in v["metrics"] and v["training_months"].startswith("[")


def test_no_training_row_has_a_label_window_past_the_training_month(completed_home):
    rows = query(
        completed_home,
        "SELECT training_month, max(snapshot_month) AS newest, count(*) AS n FROM churn.training_set_churn GROUP BY 1",
    )
    assert len(rows) > 0
    for _, row in rows.iterrows():
        newest, trained_at = pd.Timestamp(row["newest"]).date(), pd.Timestamp(row["training_month"]).date()
        assert add_months(newest, CHURN.horizon_months) <= trained_at
    # ...and the labels are exactly the source's matured labels.
    mismatches = query(
        completed_home,
        "SELECT count(*) AS n FROM churn.training_set_churn t JOIN analytics.customer_features_monthly s "
        "USING (customer_id, snapshot_month) WHERE s.churned_within_3m IS DISTINCT FROM t.label",
    )["n"].iloc[0]
    assert mismatches == 0


def test_snapshots_never_hold_labels(completed_home):
    columns = query(completed_home, "SELECT * FROM churn.snapshot_customers LIMIT 1").columns
    assert not {"churned_within_3m", "downgraded_next_month", "upgraded_next_month"} & set(columns)


def test_a_second_run_changes_nothing(completed_copy):
    before_lists = published(completed_copy).drop(columns="published_at")
    before_versions = query(completed_copy, "SELECT model, version, artifact_sha256 FROM churn.model_versions")
    report = run_pipeline(completed_copy)
    assert report.all_succeeded
    after_lists = published(completed_copy).drop(columns="published_at")
    pd.testing.assert_frame_equal(before_lists, after_lists)
    after_versions = query(completed_copy, "SELECT model, version, artifact_sha256 FROM churn.model_versions")
    pd.testing.assert_frame_equal(before_versions, after_versions)
    snapshot_rows = query(
        completed_copy, "SELECT snapshot_month, count(*) AS n FROM churn.snapshot_customers GROUP BY 1"
    )
    source_rows = query(
        completed_copy, "SELECT snapshot_month, count(*) AS n FROM analytics.customer_features_monthly GROUP BY 1"
    )
    assert (
        snapshot_rows.sort_values("snapshot_month")["n"].tolist()
        == source_rows.sort_values("snapshot_month")["n"].tolist()
    )


def test_overlap_gate_reports_honest_months_and_passes_them(completed_home):
    from dagster import AssetCheckKey, AssetKey, DagsterInstance

    instance = DagsterInstance.local_temp(str(completed_home / "dagster"))
    key = AssetCheckKey(AssetKey(["churn", "predictions"]), "top_k_overlap")
    record = instance.event_log_storage.get_latest_asset_check_execution_by_key([key])[key]
    evaluation = record.event.dagster_event.event_specific_data
    assert evaluation.passed
    overlap = evaluation.metadata["value"].value
    assert CHURN.gates.min_top_k_overlap <= overlap <= 1.0


def test_missing_column_fails_the_contract_and_publishes_nothing(completed_copy):
    """The incident that once broke training: the view silently drops a column."""
    before = published(completed_copy)
    # Run a month that has not been published yet in this copy: delete the last month's list.
    last = END_MONTH
    database = str(completed_copy / "warehouse.duckdb")
    import duckdb

    with duckdb.connect(database) as conn:
        conn.execute("DELETE FROM churn.published_predictions WHERE month = ?", [last])
        conn.execute("DELETE FROM churn.snapshot_customers WHERE snapshot_month = ?", [last])
        conn.execute("DELETE FROM churn.snapshot_manifest WHERE month = ?", [last])
    before = before[pd.to_datetime(before["month"]).dt.date != last]

    apply_incident(database, "missing-column", last, column="tenure_months")
    report = run_pipeline(completed_copy, first=last, last=last)
    outcome = report.months[0]
    assert not outcome.success
    assert outcome.contract["customers"] is False
    row = outcome.models[0]
    assert row.published is None and row.version is None and row.scored is None
    assert "data_contract" in row.status

    from dagster import AssetCheckKey, AssetKey, DagsterInstance

    instance = DagsterInstance.local_temp(str(completed_copy / "dagster"))
    key = AssetCheckKey(AssetKey(["customers", "snapshot"]), "data_contract")
    evaluation = instance.event_log_storage.get_latest_asset_check_execution_by_key([key])[
        key
    ].event.dagster_event.event_specific_data
    assert not evaluation.passed
    assert evaluation.metadata["missing_columns"].value == ["tenure_months"]

    # Nothing downstream ran for that month; every earlier month is unchanged.
    after = published(completed_copy)
    assert last not in set(pd.to_datetime(after["month"]).dt.date)
    pd.testing.assert_frame_equal(before.reset_index(drop=True), after.reset_index(drop=True))
    assert (
        query(completed_copy, "SELECT count(*) AS n FROM churn.snapshot_customers WHERE snapshot_month = ?", [last])[
            "n"
        ].iloc[0]
        == 0
    )

    # Once the view is fixed, the month runs and publishes.
    reset(database)
    assert run_pipeline(completed_copy, first=last, last=last).all_succeeded
    assert last in set(pd.to_datetime(published(completed_copy)["month"]).dt.date)


def test_scrambled_ids_collapse_the_overlap_and_block_publishing(completed_copy):
    """The rejected model's symptom: this month's list has nothing to do with last month's."""
    last = END_MONTH
    database = str(completed_copy / "warehouse.duckdb")
    import duckdb

    with duckdb.connect(database) as conn:
        for sql in [
            "DELETE FROM churn.published_predictions WHERE month = ?",
            "DELETE FROM churn.snapshot_customers WHERE snapshot_month = ?",
            "DELETE FROM churn.snapshot_manifest WHERE month = ?",
        ]:
            conn.execute(sql, [last])
    before = published(completed_copy)
    apply_incident(database, "scrambled-ids", last)
    report = run_pipeline(completed_copy, first=last, last=last)
    row = report.months[0].models[0]
    assert not report.months[0].success
    assert row.scored is not None and row.published is None
    assert row.overlap is not None and row.overlap < CHURN.gates.min_top_k_overlap
    assert "top_k_overlap" in row.status
    pd.testing.assert_frame_equal(before, published(completed_copy))


def test_a_past_snapshot_cannot_change_silently(completed_copy):
    database = str(completed_copy / "warehouse.duckdb")
    month = add_months(END_MONTH, -2)
    before = published(completed_copy)
    apply_incident(database, "scrambled-ids", month)
    report = run_pipeline(completed_copy, first=month, last=month)
    assert not report.months[0].success
    assert "immutable" in (report.months[0].models[0].error or "")
    pd.testing.assert_frame_equal(before, published(completed_copy))

    # Forced, the new content replaces the snapshot on purpose.
    forced = run_pipeline(completed_copy, first=month, last=month, force_snapshot=True)
    assert forced.months[0].snapshot_rows["customers"] > 0
    hashes = query(completed_copy, "SELECT content_hash FROM churn.snapshot_manifest WHERE month = ?", [month])
    assert len(hashes) == 1


def test_the_monthly_report_holds_what_stakeholders_checked_in_excel(completed_home):
    path = completed_home / "reports" / "churn" / f"{END_MONTH}.html"
    assert path.exists()
    page = path.read_text()
    listed = published(completed_home)
    last = listed[pd.to_datetime(listed["month"]).dt.date == END_MONTH]
    assert f"{len(last):,} (capacity" in page
    for words in [
        "overlap with the previous list",
        "entering the list",
        "leaving the list",
        "rank correlation",
        f"v{int(last['model_version'].iloc[0])}",
        "data_contract",
        "holdout_auc",
        "top_k_overlap",
        "predicted_rate",
        "score_psi",
        "coverage",
        "list_capacity",
        "Top 20 customers",
    ]:
        assert words in page, words
    assert page.count("<img") >= 2  # score histogram and overlap over time
    assert str(last.sort_values("rank")["customer_id"].iloc[0]) in page
    gates = query(completed_home, "SELECT * FROM churn.gate_results WHERE month = ?", [END_MONTH])
    assert set(gates["gate"]) >= {"data_contract", "holdout_auc", "top_k_overlap", "coverage"}
    assert gates["passed"].all()


def test_check_evaluations_belong_to_their_month_without_skipped_twins(history_home):
    """Each evaluation is recorded once, on its month (the UI's Checks tab lists it by partition);
    a month that ran has no second "planned, never executed" row beside it. A month with nothing
    to judge (no labelled month yet, so no list) does not plan its gates: no record at all, rather
    than a SKIPPED one that the UI would show as the gate's status for ever."""
    from dagster import AssetCheckKey

    from churn_assets.keys import model_key
    from churn_assets_tests.support.pipeline import dagster_instance

    instance = dagster_instance(history_home)
    judged = query(history_home, "SELECT DISTINCT month FROM churn.gate_results WHERE asset = 'churn/predictions'")
    judged = {str(pd.Timestamp(m).date()) for m in judged["month"]}
    for check in (
        AssetCheckKey(model_key("churn", "predictions"), "top_k_overlap"),
        AssetCheckKey(model_key("churn", "model"), "holdout_auc"),
    ):
        by_month: dict[str, list[str]] = {}
        for record in instance.event_log_storage.get_asset_check_execution_history(check, limit=1000):
            by_month.setdefault(record.partition, []).append(record.status.value)
        assert None not in by_month, f"{check.name}: an evaluation without its month"
        assert all(statuses == ["SUCCEEDED"] for statuses in by_month.values()), by_month
        first_month_run = str(FIRST_MONTH)
        assert first_month_run not in by_month, by_month  # churn's first months have no list to judge
        if check.name == "top_k_overlap":
            assert set(by_month) == judged


def test_a_blocked_list_is_not_published_by_materialising_the_published_asset_alone(completed_copy):
    """Dagster's blocking checks stop the publishing step of the same run; a later run that selects
    only `published_predictions` of a blocked month (a click in the UI) is refused as well."""
    from churn_assets.definitions import ALL_MODELS_JOB, build_definitions
    from churn_assets.keys import model_key
    from churn_assets_tests.support.pipeline import churn_home, dagster_instance

    month = END_MONTH
    published_before = query(
        completed_copy,
        "SELECT customer_id, rank FROM churn.published_predictions WHERE model = 'churn' AND month = ? ORDER BY rank",
        [month],
    )
    import duckdb

    with duckdb.connect(str(completed_copy / "warehouse.duckdb")) as conn:
        # The month as a failed gate leaves it: its predictions re-scored and blocked.
        conn.execute(
            "UPDATE churn.gate_results SET passed = false WHERE asset = 'churn/predictions' AND month = ? "
            "AND gate = 'top_k_overlap'",
            [month],
        )
        conn.execute("UPDATE churn.predictions SET rank = rank + 1000 WHERE model = 'churn' AND month = ?", [month])
    with churn_home(completed_copy):
        job = build_definitions().resolve_job_def(ALL_MODELS_JOB)
        result = job.execute_in_process(
            partition_key=month.isoformat(),
            instance=dagster_instance(completed_copy),
            asset_selection=[model_key("churn", "published_predictions")],
            raise_on_error=False,
        )
    assert not result.success
    (failure,) = result.get_step_failure_events()
    assert "a business gate of its predictions failed; the list is not published" in str(
        failure.event_specific_data.error
    )
    after = query(
        completed_copy,
        "SELECT customer_id, rank FROM churn.published_predictions WHERE model = 'churn' AND month = ? ORDER BY rank",
        [month],
    )
    pd.testing.assert_frame_equal(after, published_before)
    assert len(after) > 0

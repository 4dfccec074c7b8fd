"""Your own data, right the first time: a third-party-shaped monthly panel (gzip CSV, a business
that grows five-fold, a constant column, text ids, Yes/No labels written unquoted), and the
misconfigurations that used to publish wrong lists without a word."""

import subprocess

import pandas as pd
import pytest

from churn_assets.catalog import DEFAULT_CATALOG, load_catalog
from churn_assets_tests.support.panels import MONTHS, PANEL_CATALOGUE, growth_panel, panel_catalogue
from churn_assets_tests.support.pipeline import (
    CLI,
    FIRST_MONTH,
    churn_home,
    cli,
    query,
    run_pipeline,
    shipped_catalogue_with,
)


def test_a_growing_gzip_panel_runs_first_time(tmp_path):
    growth_panel(tmp_path)
    catalogue = panel_catalogue(tmp_path)
    # `check` reads the file source itself: no warehouse needed, nothing created.
    checked = cli(tmp_path / "home", "check", env_extra={"CHURN_MODELS": str(catalogue)})
    assert checked.returncode == 0, checked.stderr
    assert "checked against 1 of 1 source(s)" in checked.stdout and not (tmp_path / "home").exists()

    report = run_pipeline(tmp_path, models=["panel_churn"], catalog=load_catalog(catalogue))
    status = {str(m.month): m.models[0] for m in report.months}
    assert status["2025-01-01"].status == "snapshot only: no labelled month yet"
    # One labelled month of ~300 accounts: a holdout of a handful of positives is not judged.
    assert "not judged: the holdout holds" in status["2025-02-01"].status, status["2025-02-01"]
    assert "fewer than min_holdout_positives 30" in status["2025-02-01"].status
    for month in MONTHS[2:]:
        assert status[month].status.startswith("published"), (month, status[month].status, status[month].error)
        # A business growing five-fold moves its tenure: the drift gate warns, nothing else does.
        assert all("panel_churn/feature_drift:feature_drift" in c for c in status[month].failed_checks), status[month]

    lists = query(
        tmp_path,
        "SELECT month, count(*) AS n, min(customer_id) AS first FROM churn.published_predictions GROUP BY 1 ORDER BY 1",
    )
    assert [str(m)[:10] for m in lists["month"]] == MONTHS[2:] and lists["first"].str.startswith("ACC-").all()
    # Do-not-contact accounts are never listed; the published month is a DATE, as the contract says.
    listed_dnc = query(
        tmp_path,
        "SELECT count(*) AS n FROM churn.published_predictions p JOIN churn.snapshot_panel s "
        "ON s.customer_id = p.customer_id AND s.snapshot_month = p.month WHERE s.do_not_contact",
    )
    assert listed_dnc["n"].iloc[0] == 0
    types = query(
        tmp_path,
        "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = 'churn' "
        "AND column_name IN ('month', 'snapshot_month', 'training_month')",
    )
    assert len(types) >= 5 and set(types["data_type"]) == {"DATE"}, types

    # refit_on_all_months: the version in force trained on every labelled month, holdout included.
    versions = query(
        tmp_path, "SELECT trained_for_month, training_months, metrics FROM churn.model_versions ORDER BY version"
    )
    import json

    last = versions.iloc[-1]
    metrics = json.loads(last["metrics"])
    assert metrics["refit_on_all_months"] is True
    assert json.loads(last["training_months"]) == MONTHS[1:4]
    labelled_rows = query(
        tmp_path,
        "SELECT count(*) AS n FROM churn.training_set_panel_churn WHERE training_month = ?",
        [last["trained_for_month"]],
    )["n"].iloc[0]
    assert metrics["training_rows"] == labelled_rows > metrics["holdout_rows"]


def test_growth_beyond_the_row_count_band_is_named(tmp_path):
    growth_panel(tmp_path)
    catalogue = panel_catalogue(tmp_path, max_change="0.5")
    report = run_pipeline(
        tmp_path, models=["panel_churn"], catalog=load_catalog(catalogue), last=pd.Timestamp(MONTHS[1]).date()
    )
    february = report.months[1].models[0]
    assert february.status == "NOT published: panel/snapshot:data_contract (row count 650 outside [150, 450])"


def test_junk_text_in_a_numeric_column_fails_the_contract_naming_column_and_values(tmp_path):
    growth_panel(tmp_path, junk=True)
    catalogue = panel_catalogue(tmp_path)
    report = run_pipeline(tmp_path, models=["panel_churn"], catalog=load_catalog(catalogue))
    may = report.months[-1].models[0]
    assert "monthly_fee must hold numbers but arrives as text: 40 values are not numbers, e.g. ['29.85 EUR']" in (
        may.status
    ), may.status
    assert not report.all_succeeded
    assert (
        query(
            tmp_path, "SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 'published_predictions'"
        )["n"].iloc[0]
        == 0
    )


@pytest.mark.parametrize(
    "change, incident, expected",
    [
        # `equals: 'true'` on the boolean flag used to exclude nobody: 10 do-not-contact customers published.
        (
            lambda d: d["models"]["churn"]["exclusions"][1].update(equals="true"),
            None,
            "exclusion do_not_contact = 'true': 'true' is text but the column holds boolean values",
        ),
        # NULL flags with do_not_contact left out of not_null: the exclusion column is not-null all the same.
        (
            lambda d: d["sources"]["customers"]["not_null"].remove("do_not_contact"),
            "excluded-customers-listed",
            "not be null failed on do_not_contact",
        ),
    ],
)
def test_an_exclusion_that_cannot_be_applied_blocks_the_month(fresh_home, change, incident, expected):
    from churn_assets.simulate.incidents import apply_incident

    catalogue = shipped_catalogue_with(fresh_home, change)
    if incident:
        apply_incident(str(fresh_home / "warehouse.duckdb"), incident, FIRST_MONTH)
    report = run_pipeline(fresh_home, catalog=load_catalog(catalogue), first=FIRST_MONTH, last=FIRST_MONTH)
    (row,) = report.months[0].models
    assert row.status.startswith("snapshot NOT stored: customers/snapshot:data_contract") and expected in row.status


def test_check_says_what_it_could_not_check_and_catches_a_missing_feature(tmp_path):
    # The shipped catalogue reads a warehouse relation: on a fresh CHURN_HOME nothing can be checked.
    fresh = cli(tmp_path / "fresh", "check", env_extra={"CHURN_MODELS": str(DEFAULT_CATALOG)})
    assert fresh.returncode == 1
    assert (
        "source 'customers' (analytics.customer_features_monthly): not checked, the warehouse does not exist yet"
        in (fresh.stdout)
    )
    # A file source is checked from its file, warehouse or not.
    growth_panel(tmp_path)
    broken = tmp_path / "models.yaml"
    broken.write_text(PANEL_CATALOGUE.format(max_change="3").replace("logins, tenure", "loginz, tenure"))
    result = cli(tmp_path / "fresh", "check", env_extra={"CHURN_MODELS": str(broken)})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "model 'panel_churn', key 'features': ['loginz'] not in source 'panel'" in result.stderr
    assert "loginz (did you mean logins?)" in result.stderr


def test_a_warehouse_written_with_timestamp_months_is_migrated_to_dates(tmp_path):
    import duckdb

    from churn_assets.warehouse import DuckDBWarehouse

    database = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(database)) as conn:
        conn.execute("CREATE SCHEMA churn")
        conn.execute(
            "CREATE TABLE churn.published_predictions AS SELECT 'churn' AS model, "
            "TIMESTAMP '2025-05-01 00:00:00' AS month, 42 AS customer_id, 0.9 AS score, 1 AS rank"
        )
    warehouse = DuckDBWarehouse(database=str(database))
    assert warehouse.migrate_date_columns() == ["migrated churn.published_predictions.month: TIMESTAMP -> DATE"]
    assert warehouse.migrate_date_columns() == []  # idempotent
    after = query(
        tmp_path, "SELECT typeof(month) AS t, month, customer_id, score, rank FROM churn.published_predictions"
    )
    assert after["t"].tolist() == ["DATE"] and str(after["month"].iloc[0])[:10] == "2025-05-01"
    assert (after["customer_id"].iloc[0], after["rank"].iloc[0]) == (42, 1)

    # A table published before the value and the reasons existed gets their columns, its row kept.
    with churn_home(tmp_path):
        result = subprocess.run([CLI, "migrate"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "up to date (11 column(s) migrated)" in result.stdout, result.stdout
    assert "added churn.published_predictions.expected_loss DOUBLE" in result.stdout
    assert "added churn.published_predictions.reason_1_feature VARCHAR" in result.stdout
    kept = query(tmp_path, "SELECT customer_id, rank, value, reason_1_feature FROM churn.published_predictions")
    assert kept.iloc[0].tolist()[:2] == [42, 1] and kept[["value", "reason_1_feature"]].isna().all().all()
    with churn_home(tmp_path):
        again = subprocess.run([CLI, "migrate"], capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "up to date (0 column(s) migrated)" in again.stdout

"""Every published customer with the reasons the champion gives for their score: in the published
table, the list CSV, and added to an older table by `churn-assets migrate`."""

import os
import shutil
import subprocess
from pathlib import Path

import duckdb
import pandas as pd

from churn_assets.reasons import REASON_COLUMNS, reason_counts
from churn_assets_tests.support.pipeline import END_MONTH, cli, query


def test_every_published_customer_has_reasons_that_match_their_snapshot(completed_home):
    listed = query(
        completed_home,
        "SELECT * FROM churn.published_predictions WHERE model = 'churn' AND month = ? ORDER BY rank",
        [END_MONTH],
    )
    assert len(listed) and set(REASON_COLUMNS) <= set(listed.columns)
    # A listed customer is at high risk: at least one feature raises the score, and reasons are ordered.
    assert listed["reason_1_feature"].notna().all() and (listed["reason_1_contribution"] > 0).all()
    both = listed["reason_2_contribution"].notna()
    assert (listed.loc[both, "reason_1_contribution"] >= listed.loc[both, "reason_2_contribution"]).all()
    # Each reason's value is the customer's own value in the month's snapshot.
    snapshot = query(completed_home, "SELECT * FROM churn.snapshot_customers WHERE snapshot_month = ?", [END_MONTH])
    snapshot = snapshot.set_index("customer_id")
    for row in listed.head(50).itertuples():
        value = snapshot.loc[row.customer_id, row.reason_1_feature]
        shown = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
        assert row.reason_1_value == shown or float(row.reason_1_value) == float(value), (row, value)
    csv = pd.read_csv(completed_home / "reports" / "churn" / f"{END_MONTH}.csv")
    assert list(csv["reason_1_feature"]) == list(listed["reason_1_feature"])
    # The report says why, per customer and for the list as a whole.
    page = (completed_home / "reports" / "churn" / f"{END_MONTH}.html").read_text()
    first = listed.iloc[0]
    assert f"{first['reason_1_feature']} = {first['reason_1_value']}" in page
    assert "Why customers are on this month&#39;s list" in page or "Why customers are on this month's list" in page
    feature, share = next(iter(reason_counts(listed[REASON_COLUMNS]).items()))  # the most common reason
    assert f"{share:.0%}" in page and feature in page


def test_migrate_adds_the_reason_columns_to_a_table_published_before_them(completed_copy):
    database = str(completed_copy / "warehouse.duckdb")
    with duckdb.connect(database) as conn:
        for column in REASON_COLUMNS:
            conn.execute(f"ALTER TABLE churn.published_predictions DROP COLUMN {column}")
    result = cli(completed_copy, "migrate")
    assert result.returncode == 0, result.stderr
    assert "added churn.published_predictions.reason_1_feature VARCHAR" in result.stdout
    types = dict(
        query(
            completed_copy,
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'published_predictions'",
        ).itertuples(index=False)
    )
    assert types["reason_1_feature"] == "VARCHAR" and types["reason_3_contribution"] == "DOUBLE"
    again = cli(completed_copy, "migrate")
    assert "added" not in again.stdout and "(0 column(s) migrated)" in again.stdout


def test_the_published_months_report_shows_reasons_and_value_at_risk_in_a_browser(completed_home, tmp_path):
    from PIL import Image

    from churn_assets_tests.support.ui import chromium

    page = completed_home / "reports" / "churn" / f"{END_MONTH}.html"
    listed = query(
        completed_home,
        "SELECT * FROM churn.published_predictions WHERE model = 'churn' AND month = ? ORDER BY rank",
        [END_MONTH],
    )
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
    flags += [f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,2400"]
    dom = subprocess.run([chromium(), *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    first = listed.iloc[0]
    assert f"{first['reason_1_feature']} = {first['reason_1_value']}" in dom.stdout
    assert "value at risk (expected monthly loss, score x value)" in dom.stdout
    assert f"{listed['expected_loss'].sum():,.2f}" in dom.stdout
    shot = tmp_path / "report.png"
    subprocess.run(
        [chromium(), *flags, f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120, check=True
    )
    colors = Image.open(shot).convert("RGB").getcolors(maxcolors=1_000_000)
    assert len(colors) > 20, "the page rendered blank"
    if os.environ.get("CHURN_SCREENSHOT_DIR"):  # keep the picture for a person to look at
        shutil.copy(shot, Path(os.environ["CHURN_SCREENSHOT_DIR"]) / "published_month_report.png")

"""Months in order: the row-count band always applies from a source's second month on (also right
after a refused month), a month whose previous month has no record is refused naming the month to
run first, and a refused re-run of a published month never rewrites what that month recorded."""

import datetime as dt
import shutil

import duckdb

from churn_assets.rules.months import add_months
from churn_assets.simulate.incidents import CLEAN, VIEW, _keep_clean_copy
from churn_assets_tests.support.pipeline import END_MONTH, FIRST_MONTH, query, run_pipeline

SEP, OCT, NOV, DEC = (add_months(FIRST_MONTH, i) for i in range(4))


def replace_view(home, body: str) -> None:
    with duckdb.connect(str(home / "warehouse.duckdb")) as conn:
        _keep_clean_copy(conn)
        conn.execute(f"CREATE OR REPLACE VIEW {VIEW} AS {body}")


def contract_record(home, month: dt.date):
    frame = query(
        home,
        "SELECT passed, summary FROM churn.gate_results WHERE asset = 'customers/snapshot' AND gate = 'data_contract' "
        "AND month = ?",
        [month],
    )
    return (bool(frame["passed"].iloc[0]), frame["summary"].iloc[0]) if len(frame) else None


def test_a_second_drop_after_a_refused_month_is_blocked_and_a_recovery_is_not(fresh_home):
    # October loses 70 % of its rows, November 91 % (a second drop of 70 % from October's count),
    # December is whole again. Only snapshots run: churn has no labelled month before December.
    replace_view(
        fresh_home,
        f"SELECT * FROM {CLEAN} WHERE snapshot_month NOT IN (DATE '{OCT}', DATE '{NOV}') "
        f"OR (snapshot_month = DATE '{OCT}' AND customer_id % 10 < 3) "
        f"OR (snapshot_month = DATE '{NOV}' AND customer_id % 100 < 9)",
    )
    report = run_pipeline(fresh_home, first=SEP, last=DEC)
    contracts = {m.month: m.contract["customers"] for m in report.months}
    assert contracts == {SEP: True, OCT: False, NOV: False, DEC: True}

    passed, summary = contract_record(fresh_home, NOV)
    october_rows = int(query(fresh_home, f"SELECT count(*) AS n FROM {VIEW} WHERE snapshot_month = ?", [OCT])["n"][0])
    assert not passed and "row count" in summary and "outside" in summary
    assert f"judged against {OCT}'s {october_rows:,} rows, recorded when its contract refused it" in summary
    passed, summary = contract_record(fresh_home, DEC)
    assert passed and f"judged against {SEP}" in summary and "the last stored snapshot" in summary
    assert "band not applied" not in summary
    # Only the source's first month goes without a band.
    assert "band not applied" in contract_record(fresh_home, SEP)[1]


def test_a_month_whose_previous_month_never_ran_names_the_month_to_run_first(fresh_home):
    assert run_pipeline(fresh_home, first=SEP, last=OCT).all_succeeded
    report = run_pipeline(fresh_home, first=add_months(OCT, 3), last=add_months(OCT, 3))
    (month,) = report.months
    assert not month.success
    assert month.models[0].error == (
        f"{add_months(OCT, 3)} of source 'customers' cannot run before {NOV}: {NOV} has neither a stored snapshot "
        f"nor a refused contract on record (never run, or its run failed with an error); run {NOV} first"
    )
    assert contract_record(fresh_home, add_months(OCT, 3)) is None  # refused before judging anything


def test_a_refused_rerun_of_a_published_month_keeps_what_that_month_recorded(completed_home, tmp_path):
    home, month = tmp_path, END_MONTH
    shutil.copy(completed_home / "warehouse.duckdb", home / "warehouse.duckdb")
    shutil.copytree(completed_home / "reports", home / "reports")
    # What each month recorded (the looking-back gates of a blocked month are judged again in a run
    # of their own, to the same verdicts: when is not what).
    tables = {"gate_results": "* EXCLUDE (evaluated_at)", "published_predictions": "*"}

    def recorded(table):
        return query(home, f"SELECT {tables[table]} FROM churn.{table} WHERE month = ? ORDER BY ALL", [month])

    before = {table: recorded(table) for table in tables}
    report_dir = home / "reports" / "churn"
    files_before = {p.name: p.read_bytes() for p in report_dir.glob(f"{month}*")}
    assert before["published_predictions"].shape[0] and f"{month}.csv" in files_before
    # A row dated in the future arrives: every month's contract fails from now on (correct) ...
    replace_view(
        home,
        f"SELECT * FROM {CLEAN} UNION ALL SELECT * REPLACE (DATE '2099-01-01' AS snapshot_month) FROM {CLEAN} "
        f"WHERE snapshot_month = DATE '{END_MONTH}' AND customer_id % 500 = 0",
    )
    report = run_pipeline(home, first=month, last=month)
    assert report.months[0].contract["customers"] is False
    # ... but the published month's records, list and report stay as they were.
    for table, frame in before.items():
        assert recorded(table).equals(frame), table
    assert {p.name: p.read_bytes() for p in report_dir.glob(f"{month}*")} == files_before

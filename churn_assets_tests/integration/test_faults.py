"""Faults: transient warehouse errors are retried, permanent ones fail fast, and a publish is
atomic even when its process is killed."""

import os
import signal
import subprocess
import sys
import textwrap
import threading

import duckdb
import pandas as pd
from dagster import DagsterEventType

from churn_assets.warehouse import DuckDBWarehouse
from churn_assets_tests.support.frames import month_frame
from churn_assets_tests.support.pipeline import END_MONTH, dagster_instance, query, run_pipeline


def events(home, run_id, kind):
    return dagster_instance(home).get_records_for_run(run_id, of_type=kind).records


def test_a_dropped_connection_is_retried_and_the_run_succeeds(history_copy, monkeypatch):
    # The model's month-sized read streams through _fetch_chunks (Warehouse.read_features).
    original = DuckDBWarehouse._fetch_chunks
    calls = {"n": 0}

    def flaky(self, conn, sql, params):
        if "FROM churn.training_set_churn t" in sql:
            calls["n"] += 1
        if calls["n"] == 1 and "FROM churn.training_set_churn t" in sql:  # the model's read loses its connection once
            raise duckdb.IOException("IO Error: connection dropped by peer")
        return original(self, conn, sql, params)

    monkeypatch.setattr(DuckDBWarehouse, "_fetch_chunks", flaky)
    report = run_pipeline(history_copy, first=END_MONTH, last=END_MONTH)
    assert report.all_succeeded
    assert len(events(history_copy, report.months[0].run_id, DagsterEventType.STEP_UP_FOR_RETRY)) == 1
    assert END_MONTH in set(
        pd.to_datetime(query(history_copy, "SELECT month FROM churn.published_predictions")["month"]).dt.date
    )


def test_a_permanent_error_fails_fast_with_a_clear_message(history_copy, monkeypatch):
    original = DuckDBWarehouse._fetch_chunks

    def broken(self, conn, sql, params):
        if "FROM churn.training_set_churn t" in sql:
            raise duckdb.CatalogException("Catalog Error: Table with name training_set_churn does not exist!")
        return original(self, conn, sql, params)

    monkeypatch.setattr(DuckDBWarehouse, "_fetch_chunks", broken)
    report = run_pipeline(history_copy, first=END_MONTH, last=END_MONTH)
    row = report.months[0].models[0]
    assert not report.all_succeeded and row.published is None
    assert row.error == "Catalog Error: Table with name training_set_churn does not exist!"
    # Failing fast is failing without a retry (how long that takes is for bench/, not for a test).
    assert events(history_copy, report.months[0].run_id, DagsterEventType.STEP_UP_FOR_RETRY) == []


def test_readers_never_see_a_half_written_or_mixed_month(tmp_path):
    warehouse = DuckDBWarehouse(database=str(tmp_path / "w.duckdb"))
    key = {"model": "churn", "month": pd.Timestamp("2025-06-01").date()}
    warehouse.replace_rows("published_predictions", key, month_frame(1, 50_000))
    seen, stop = [], threading.Event()

    def reader():
        while not stop.is_set():
            frame = warehouse.query("SELECT model_version, count(*) AS n FROM churn.published_predictions GROUP BY 1")
            seen.append(tuple(map(tuple, frame.to_numpy())))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for version in range(2, 12):
            warehouse.replace_rows("published_predictions", key, month_frame(version, 50_000))
    finally:  # never leave the reader spinning if a write fails
        stop.set()
        thread.join()
    assert len(seen) > 5
    # Every read saw exactly one complete version of the month.
    assert all(len(s) == 1 and s[0][1] == 50_000 for s in seen), [s for s in seen if len(s) != 1 or s[0][1] != 50_000][
        :3
    ]


def test_a_publish_killed_with_sigkill_leaves_the_month_whole(tmp_path):
    database = tmp_path / "w.duckdb"
    warehouse = DuckDBWarehouse(database=str(database))
    key = {"model": "churn", "month": pd.Timestamp("2025-06-01").date()}
    warehouse.replace_rows("published_predictions", key, month_frame(1, 200_000))
    # The writer replaces the month with version 2 and stops inside the open transaction, after the
    # delete and the insert, before the commit: it reports what its own transaction sees, then
    # waits on stdin until it is killed. The kill lands inside the transaction for certain.
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(os.getcwd())!r})
        from churn_assets.warehouse import DuckDBWarehouse
        from churn_assets_tests.support.frames import month_frame
        import pandas as pd
        original = DuckDBWarehouse._write_frame

        def write_then_wait(self, conn, table, frame):
            original(self, conn, table, frame)
            seen = conn.execute(
                "SELECT model_version, count(*) FROM churn.published_predictions GROUP BY 1"
            ).fetchall()
            print("inside transaction:", sorted(seen), flush=True)
            sys.stdin.readline()  # never answered: the test kills this process here

        DuckDBWarehouse._write_frame = write_then_wait
        w = DuckDBWarehouse(database={str(database)!r})
        key = {{"model": "churn", "month": pd.Timestamp("2025-06-01").date()}}
        w.replace_rows("published_predictions", key, month_frame(2, 200_000))
        print("committed", flush=True)
    """)
    writer = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        # The old month deleted and the new one written, as seen from inside the uncommitted transaction.
        assert writer.stdout.readline().strip() == "inside transaction: [(2, 200000)]"
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    finally:
        if writer.poll() is None:
            writer.kill()
    assert writer.returncode == -signal.SIGKILL and "committed" not in writer.stdout.read()

    after = warehouse.query(
        "SELECT model_version, count(*) AS n, count(DISTINCT customer_id) AS d FROM churn.published_predictions GROUP "
        "BY 1"
    )
    assert after.to_dict("records") == [{"model_version": 1, "n": 200_000, "d": 200_000}]
    # A re-run replaces it cleanly: complete, no duplicates.
    warehouse.replace_rows("published_predictions", key, month_frame(99, 200_000))
    final = warehouse.query(
        "SELECT model_version, count(*) AS n, count(DISTINCT customer_id) AS d FROM churn.published_predictions GROUP "
        "BY 1"
    )
    assert final.to_dict("records") == [{"model_version": 99, "n": 200_000, "d": 200_000}]

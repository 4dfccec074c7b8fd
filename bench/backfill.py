"""Months through Dagster's daemon: a backfill of N months against `churn-assets run` of the same months.

    python bench/backfill.py                  # 20k customers, 6 months, the daemon's real 30 s tick and a 2 s one
    python bench/backfill.py --quick          # 3k customers
    python bench/backfill.py --ticks 30       # only the real tick

Both paths start from byte-identical copies of one seeded warehouse and run every model of the
shipped catalogue (its `partitions_start` moved to the first seeded month) for every seeded month:

(a) sequential: `churn-assets run` in a new process (one Dagster run per month, in order);
(b) backfill: a PostgreSQL instance (deploy/dagster.yaml with runs launched as processes: up to 4
    at once), dagster-webserver and dagster-daemon started and loaded first (untimed); the backfill is launched through
    GraphQL (`launchPartitionBackfill`, every asset, the N months) and timed until it completes.

Dagster's backfill daemon evaluates backfills every 30 s (a constant): each month's snapshot,
model and predictions wait for the month before, so the backfill advances about one step per
tick. `--ticks 30,2` runs it with the real tick and with a 2 s one (the test's) to show how much
of the time is the tick. Target: wall(b) / wall(a) <= 1.3 with the real tick.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import _common as c  # noqa: E402

TARGET_RATIO = 1.3
ERROR = """
query($id: String!) {
  partitionBackfillOrError(backfillId: $id) { ... on PartitionBackfill { error { message } } }
}
"""
LAST = dt.date(2025, 6, 1)


def sequential(home: Path, catalog: Path) -> float:
    env = {**os.environ, "CHURN_HOME": str(home), "CHURN_MODELS": str(catalog), "CHURN_ENV": "local"}
    started = time.perf_counter()
    done = subprocess.run(
        [str(Path(sys.executable).parent / "churn-assets"), "run"], env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        print(done.stdout[-3000:], done.stderr[-3000:])
        raise SystemExit("the sequential run failed")
    return elapsed


def backfill(home: Path, catalog: Path, months: list[str], tick: float, work: Path) -> dict:
    import psycopg2

    from churn_assets_tests.integration import snowflake_fixtures as fx
    from churn_assets_tests.integration.conftest import PG, write_process_launched_instance
    from churn_assets_tests.integration.test_backfill import ASSETS, LAUNCH, STATUS

    database = f"churn_bench_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(dbname="postgres", **PG)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{database}"')
    dagster_home = work / f"dagster_home_{tick:g}"
    dagster_home.mkdir()
    # The deployed instance (PostgreSQL, queue limits), runs as processes: no Docker here.
    write_process_launched_instance(dagster_home)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CHURN_", "DAGSTER_"))},
        "DAGSTER_HOME": str(dagster_home),
        "DAGSTER_POSTGRES_HOST": PG["host"],
        "DAGSTER_POSTGRES_PORT": str(PG["port"]),
        "DAGSTER_POSTGRES_USER": PG["user"],
        "DAGSTER_POSTGRES_PASSWORD": PG["password"],
        "DAGSTER_POSTGRES_DB": database,
        "CHURN_ENV": "local",
        "CHURN_HOME": str(home),
        "CHURN_MODELS": str(catalog),
        "CHURN_TRAIN_THREADS": os.environ.get("CHURN_TRAIN_THREADS", "1"),
    }
    logs = work / f"logs_{tick:g}"
    logs.mkdir()
    port, workspace = fx.free_port(), str(fx.REPO / "workspace.yaml")
    try:
        with fx.processes(logs) as started:
            started.append(fx.webserver_process(port, workspace, env, logs))
            daemon = [sys.executable, "-m", "churn_assets_tests.integration.daemon_ticks", str(tick), "run"]
            started.append(fx.Process("daemon", daemon + ["-w", workspace], env, logs))
            fx.wait_until(lambda: fx.webserver_ready(port), 180, "the webserver", started)
            keys = fx.wait_until(
                lambda: [n["assetKey"] for n in fx.graphql(port, ASSETS)["assetNodes"]], 180, "the assets", started
            )
            time.sleep(5)  # the daemon has loaded the location too
            begun = time.perf_counter()
            launched = fx.graphql(
                port, LAUNCH, {"params": {"partitionNames": months, "assetSelection": keys, "fromFailure": False}}
            )["launchPartitionBackfill"]
            backfill_id = launched["backfillId"]

            def done():
                status = fx.graphql(port, STATUS, {"id": backfill_id})["partitionBackfillOrError"]["status"]
                return status if status not in ("REQUESTED", "CANCELING", "FAILING") else None

            status = fx.wait_until(done, 7200, "the backfill", started, interval=1)
            elapsed = time.perf_counter() - begun
            if status != "COMPLETED_SUCCESS":
                # A failed backfill's time is no figure: say why it failed, with the daemon's last lines.
                error = fx.graphql(port, ERROR, {"id": backfill_id})["partitionBackfillOrError"].get("error")
                print(f"backfill {backfill_id} ended {status}: {(error or {}).get('message', 'no error recorded')}")
                lines = started[1].output().splitlines()
                errors = [line for line in lines if "rror" in line or "xception" in line]
                print("daemon log, its errors:\n" + "\n".join(errors[:20] or ["(none)"]))
                print("daemon log, last lines:\n" + "\n".join(lines[-15:]))
        connection = psycopg2.connect(dbname=database, **PG)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT extract(epoch FROM create_timestamp), start_time, end_time FROM runs "
                "WHERE run_body::json->'tags'->>'dagster/backfill' = %s",
                [backfill_id],
            )
            rows = [(float(c), s, e) for c, s, e in cursor.fetchall() if s and e]
        connection.close()
        spans = [(s, e) for _, s, e in rows]
        most = max((sum(1 for s, e in spans if s <= start < e) for start, _ in spans), default=0)
        return {
            "seconds": elapsed,
            "status": status,
            "runs": len(spans),
            "most_at_once": most,
            # Where the time goes: while no run of the backfill is executing, the backfill waits for
            # the daemon's next tick or a run's process to start.
            "busy_seconds": union_seconds(spans),
            "mean_run_seconds": sum(e - s for s, e in spans) / len(spans) if spans else 0.0,
            "mean_created_to_started_seconds": sum(s - c for c, s, _ in rows) / len(rows) if rows else 0.0,
        }
    finally:
        with admin.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [database],
            )
            cursor.execute(f'DROP DATABASE IF EXISTS "{database}"')
        admin.close()


def union_seconds(spans: list[tuple[float, float]]) -> float:
    """Seconds covered by at least one of the (start, end) spans."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(spans):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--ticks", default="30,2", help="backfill daemon ticks to measure, seconds (Dagster's: 30)")
    parser.add_argument("--quick", action="store_true", help="3,000 customers")
    parser.add_argument("--json")
    args = parser.parse_args()
    customers = 3_000 if args.quick else args.customers
    os.environ.setdefault("CHURN_TRAIN_THREADS", "1")
    c.header(f"backfill through the daemon vs churn-assets run: {customers:,} customers x {args.months} months")

    work = Path(tempfile.mkdtemp(prefix="churn_bench_backfill_"))
    try:
        seeded = work / "seeded"
        seeded.mkdir()
        c.seed_source(seeded / "warehouse.duckdb", customers, months=args.months, end_month=LAST)
        first = c.add_months(LAST, -(args.months - 1))
        months = [c.add_months(first, i).isoformat() for i in range(args.months)]
        raw = c.shipped_catalog()
        raw["partitions_start"] = first.isoformat()
        catalog = c.write_catalog(raw, work / "models.yaml")

        def copy(name: str) -> Path:
            home = work / name
            home.mkdir()
            shutil.copy(seeded / "warehouse.duckdb", home / "warehouse.duckdb")
            return home

        results = {"sequential_seconds": sequential(copy("sequential"), catalog)}
        print(f"(a) churn-assets run        {results['sequential_seconds']:8.1f} s")
        for tick in [float(t) for t in args.ticks.split(",")]:
            figures = backfill(copy(f"backfill_{tick:g}"), catalog, months, tick, work)
            ratio = figures["seconds"] / results["sequential_seconds"]
            results[f"backfill_tick_{tick:g}"] = {**figures, "ratio": ratio}
            succeeded = figures["status"] == "COMPLETED_SUCCESS"
            target = (
                f"target <= {TARGET_RATIO}: {c.verdict(succeeded and ratio <= TARGET_RATIO)}"
                if tick == 30
                else "(test tick)"
            )
            print(
                f"(b) backfill, {tick:g} s tick    {figures['seconds']:8.1f} s   ratio {ratio:.2f}   {target}   "
                f"{figures['runs']} runs, at most {figures['most_at_once']} at once, {figures['status']}"
            )
            print(
                f"      a run executing {figures['busy_seconds']:.1f} s, none executing "
                f"{figures['seconds'] - figures['busy_seconds']:.1f} s (waiting for the daemon's tick or a run's "
                f"process); a run {figures['mean_run_seconds']:.1f} s on average, "
                f"{figures['mean_created_to_started_seconds']:.1f} s from created to started"
            )
        c.save_json(args.json, {"customers": customers, "months": args.months, **results})
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

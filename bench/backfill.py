"""Months through Dagster's daemon, the README's way, against `churn-assets run` of the same months.

    python bench/backfill.py                    # 50,000 customers x 6 months, 3 models: job backfill vs run
    python bench/backfill.py --quick            # 3,000 customers
    python bench/backfill.py --repeat 3         # 3 pairs, alternating which path goes first; best of each
    python bench/backfill.py --asset-backfill   # also the asset backfill (the slow path; ~10 min at 3k)
    python bench/backfill.py --instance deployed   # deploy/dagster.yaml on PostgreSQL instead of `make ui`'s

Every path starts from a byte-identical copy of one seeded warehouse and runs every model of the
shipped catalogue (its `partitions_start` moved to the first seeded month) for every seeded month:

(a) `churn-assets run` in a new process, timed from its start to its exit (one run per month, in
    order, in that process; its imports and definitions are paid once).
(b) the fast path of README ("Running months"): `make ui`'s instance and processes, i.e.
    `python -m churn_assets.local_instance` then `dagster dev -w workspace.yaml` (webserver, daemon
    and one code server; Dagster's own daemon ticks, nothing patched), started and loaded untimed;
    then **Jobs -> all_models_monthly -> Backfill** as the UI sends it (`launchPartitionBackfill`
    with the job's partition set and the months), timed from the launch until the last month's
    run has ended. The backfill's own status (COMPLETED_SUCCESS) is recorded at the backfill
    daemon's next tick after that, 0-30 s later: printed beside, not in the ratio.
(c) with --asset-backfill: every asset, the months, launched as Materialize -> Launch backfill does.

Where (b)'s time goes, from the run records and event log of its instance: launch to the first run
created (the backfill daemon's 30 s tick), then per month run: the queue's dequeue wait (the run may
start: the previous month has ended; it waits for the queue daemon's next iteration), the launch
(RUN_DEQUEUED -> RUN_STARTING), the run worker's start (RUN_STARTING -> RUN_START: a new Python
process imports Dagster and the project and builds the definitions), and the month's work
(RUN_START -> RUN_SUCCESS); for (a) the same months' RUN_START -> RUN_SUCCESS in its process.

PASS only when the backfill completed with every month's run succeeded, the two warehouses hold
the same published lists, registry and gate results (digests), and wall(b) / wall(a) <= 1.3.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import shutil
import statistics
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
LAST = dt.date(2025, 6, 1)
VENV_BIN = Path(sys.executable).parent
JOB_PARTITION_SET = "all_models_monthly_partition_set"
LOCATION = {"repositoryLocationName": "churn_assets", "repositoryName": "__repository__"}
# What the UI's backfill dialogs add to a backfill's tags (tagsWithUIExecutionTags).
UI_TAGS = [{"key": "dagster/from_ui", "value": "true"}]

STATUS = """
query($id: String!) {
  partitionBackfillOrError(backfillId: $id) { ... on PartitionBackfill { status error { message } } }
}
"""
DAEMONS = "{ instance { daemonHealth { allDaemonStatuses { daemonType required healthy } } } }"
FINAL = ("COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED")


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def code() -> str:
    """Which churn_assets the runs import, and its git state (others may be editing the checkout)."""
    import churn_assets

    where = Path(churn_assets.__file__).parent
    git = subprocess.run(["git", "-C", str(c.ROOT), "describe", "--always", "--dirty"], capture_output=True, text=True)
    return f"{where} ({'git ' + git.stdout.strip() if git.returncode == 0 else 'not a git checkout'})"


def load() -> str:
    return "/".join(f"{v:.2f}" for v in os.getloadavg())


def base_env(home: Path, catalog: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHURN_", "DAGSTER_"))}
    return {
        **env,
        "CHURN_ENV": "local",
        "CHURN_HOME": str(home),
        "CHURN_MODELS": str(catalog),
        "CHURN_TRAIN_THREADS": os.environ.get("CHURN_TRAIN_THREADS", "1"),
    }


@contextlib.contextmanager
def instance_of(dagster_home: Path, env: dict[str, str]):
    """The Dagster instance in `dagster_home`, opened in this process with the environment it was run with."""
    from dagster import DagsterInstance

    saved = {k: os.environ.get(k) for k in env if k.startswith("DAGSTER_")}
    os.environ.update({k: v for k, v in env.items() if k.startswith("DAGSTER_")})
    try:
        with DagsterInstance.from_config(str(dagster_home)) as instance:
            yield instance
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def timeline(instance, tags: dict | None = None) -> list[dict]:
    """Every run (of the backfill `tags`), with the epoch seconds of its life's events, in start order."""
    from dagster import DagsterEventType as E
    from dagster import RunsFilter

    wanted = {
        E.RUN_ENQUEUED: "enqueued",
        E.RUN_DEQUEUED: "dequeued",
        E.RUN_STARTING: "starting",
        E.RUN_START: "start",
        E.RUN_SUCCESS: "end",
        E.RUN_FAILURE: "end",
        E.RUN_CANCELED: "end",
    }
    rows = []
    for record in instance.get_run_records(RunsFilter(tags=tags) if tags else None):
        run = record.dagster_run
        row = {
            "run_id": run.run_id,
            "month": run.tags.get("dagster/partition"),
            "status": run.status.value,
            "created": record.create_timestamp.timestamp(),
        }
        steps: dict[str, float] = {}
        kinds = set(wanted) | {E.STEP_START, E.STEP_SUCCESS, E.STEP_FAILURE}
        for event in instance.get_records_for_run(run.run_id, of_type=kinds).records:
            dagster_event = event.event_log_entry.dagster_event
            if dagster_event.event_type in wanted:
                row.setdefault(wanted[dagster_event.event_type], event.timestamp)
            else:  # a step's seconds: its end minus its start, summed per stage (snapshot, model, ...)
                sign = -1 if dagster_event.event_type == E.STEP_START else 1
                stage = dagster_event.step_key.split("__")[-1]
                steps[stage] = steps.get(stage, 0.0) + sign * event.timestamp
        row["steps"] = steps
        rows.append(row)
    return sorted(rows, key=lambda r: (r.get("start") or float("inf"), r["created"]))


# -- (a) churn-assets run -------------------------------------------------------------------------------
def sequential(home: Path, catalog: Path) -> dict:
    env = base_env(home, catalog)
    before = load()
    began = time.time()
    done = subprocess.run([str(VENV_BIN / "churn-assets"), "run"], env=env, cwd=c.ROOT, capture_output=True, text=True)
    ended = time.time()
    if done.returncode != 0:
        print(done.stdout[-3000:], done.stderr[-3000:])
        return {"ok": False, "seconds": ended - began}
    with instance_of(home / "dagster", env) as instance:
        runs = timeline(instance)
    return {"load_before": before, "load_after": load()} | run_figures(runs, began, ended)


def run_figures(runs: list[dict], began: float, ended: float) -> dict:
    """Where `churn-assets run`'s time went, from its runs' timelines (epoch seconds)."""
    return {
        "ok": all(r["status"] == "SUCCESS" for r in runs),
        "seconds": ended - began,
        # Process start to the first month's RUN_START: interpreter, imports, definitions, instance, guard.
        "startup_seconds": runs[0]["start"] - began,
        "work_seconds": {r["month"]: r["end"] - r["start"] for r in runs},
        "stage_seconds": stage_sums(runs),
        "between_runs_seconds": sum(b["start"] - a["end"] for a, b in zip(runs, runs[1:])),
        "exit_seconds": ended - runs[-1]["end"],
        "runs": len(runs),
    }


# -- (b), (c) through the daemon ------------------------------------------------------------------------
@contextlib.contextmanager
def dagster_services(home: Path, catalog: Path, kind: str, logs: Path):
    """`make ui` (kind "local"), or the deployed instance on PostgreSQL with runs as processes
    (kind "deployed"): yields (graphql port, environment, started processes)."""
    from churn_assets_tests.support import services as fx

    env = base_env(home, catalog)
    dagster_home = home / "dagster"
    port, workspace = fx.free_port(), str(c.ROOT / "workspace.yaml")
    database = None
    if kind == "local":
        # Exactly `make ui`: the local instance written from dagster.yaml, then `dagster dev`.
        subprocess.run(
            [sys.executable, "-m", "churn_assets.local_instance", str(dagster_home)],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        env["DAGSTER_HOME"] = str(dagster_home)
        dev = [str(VENV_BIN / "dagster"), "dev", "-w", workspace, "-h", "127.0.0.1", "-p", str(port)]
        commands = [("dagster-dev", dev)]
    else:
        import psycopg2

        from churn_assets_tests.support.postgres import PG, write_process_launched_instance

        database = f"churn_bench_{uuid.uuid4().hex[:10]}"
        with contextlib.closing(psycopg2.connect(dbname="postgres", **PG)) as admin:
            admin.autocommit = True
            with admin.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{database}"')
        dagster_home.mkdir()
        write_process_launched_instance(dagster_home)
        env.update(
            DAGSTER_HOME=str(dagster_home),
            DAGSTER_POSTGRES_HOST=PG["host"],
            DAGSTER_POSTGRES_PORT=str(PG["port"]),
            DAGSTER_POSTGRES_USER=PG["user"],
            DAGSTER_POSTGRES_PASSWORD=PG["password"],
            DAGSTER_POSTGRES_DB=database,
        )
        commands = [
            ("webserver", [str(VENV_BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-w", workspace]),
            ("daemon", [str(VENV_BIN / "dagster-daemon"), "run", "-w", workspace]),
        ]
    try:
        with fx.processes(logs) as started:
            for name, args in commands:
                started.append(fx.Process(name, args, env, logs, cwd=c.ROOT))
            fx.wait_until(lambda: fx.webserver_ready(port), 300, "the webserver", started)
            fx.wait_until(
                lambda: fx.loaded_locations(port).get("churn_assets") == "RepositoryLocation", 300, "the code", started
            )

            def daemons_healthy() -> bool:
                statuses = fx.graphql(port, DAEMONS)["instance"]["daemonHealth"]["allDaemonStatuses"]
                return all(s["healthy"] for s in statuses if s["required"])

            fx.wait_until(daemons_healthy, 300, "the daemons", started, interval=1)
            time.sleep(3)
            yield port, env, started
    finally:
        if database:
            import psycopg2

            from churn_assets_tests.support.postgres import PG

            with contextlib.closing(psycopg2.connect(dbname="postgres", **PG)) as admin:
                admin.autocommit = True
                with admin.cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                        "AND pid <> pg_backend_pid()",
                        [database],
                    )
                    cursor.execute(f'DROP DATABASE IF EXISTS "{database}"')


def through_the_daemon(home: Path, catalog: Path, months: list[str], kind: str, instance: str, logs: Path) -> dict:
    """A backfill of `months`, launched as the UI launches it; its figures (see the module's docstring)."""
    from churn_assets_tests.support import services as fx
    from churn_assets_tests.support.backfills import ASSETS, LAUNCH

    logs.mkdir(parents=True)
    with dagster_services(home, catalog, instance, logs) as (port, env, started):
        if kind == "job":  # Jobs -> all_models_monthly -> Backfill (BackfillSelector.tsx)
            params = {
                "selector": {"partitionSetName": JOB_PARTITION_SET, "repositorySelector": LOCATION},
                "partitionNames": months,
                "fromFailure": False,
                "tags": UI_TAGS,
            }
        else:  # Assets, select all, Materialize -> Launch backfill (LaunchAssetChoosePartitionsDialog.tsx)
            keys = [{"path": n["assetKey"]["path"]} for n in fx.graphql(port, ASSETS)["assetNodes"]]
            params = {"assetSelection": keys, "partitionNames": months, "fromFailure": False, "tags": UI_TAGS}
        before = load()
        launched_at = time.time()
        launched = fx.graphql(port, LAUNCH, {"params": params})["launchPartitionBackfill"]
        if launched["__typename"] != "LaunchBackfillSuccess":
            print(f"the backfill was not launched: {launched}")
            return {"ok": False, "status": launched["__typename"]}
        backfill_id = launched["backfillId"]

        def final():
            found = fx.graphql(port, STATUS, {"id": backfill_id})["partitionBackfillOrError"]
            return found if found["status"] in FINAL else None

        try:
            found = fx.wait_until(final, 7200, "the backfill", started, interval=0.5)
        except AssertionError as exc:  # a process died or the backfill never ended: no figure
            print(str(exc)[-3000:])
            return {"ok": False, "status": "did not end"}
        seen_at = time.time()
        after = load()
        if found["status"] != "COMPLETED_SUCCESS":
            print(f"backfill {backfill_id} ended {found['status']}: {(found.get('error') or {}).get('message')}")
            daemon = started[-1].output().splitlines()
            print("daemon log, errors:\n" + "\n".join([x for x in daemon if "rror" in x][:20] or ["(none)"]))
        # Read while the services run: the deployed kind's database is dropped when they stop.
        with instance_of(home / "dagster", env) as dagster:
            runs = timeline(dagster, {"dagster/backfill": backfill_id})
            recorded = dagster.get_backfill(backfill_id)
    figures = backfill_figures(runs, launched_at, (recorded.backfill_end_timestamp or seen_at))
    return {"status": found["status"], "backfill_id": backfill_id, "load_before": before, "load_after": after} | {
        **figures,
        "ok": found["status"] == "COMPLETED_SUCCESS" and figures["ok"],
    }


def backfill_figures(runs: list[dict], launched_at: float, status_at: float) -> dict:
    """Where a backfill's time went, from its runs' timelines (epoch seconds)."""
    failed = {r["month"]: r["status"] for r in runs if r["status"] != "SUCCESS"}
    if failed:
        print(f"runs that did not succeed: {failed}")
    ended = [r for r in runs if "end" in r and "start" in r]
    last_end = max((r["end"] for r in ended), default=status_at)
    spans = [(r["start"], r["end"]) for r in ended]
    figures = {
        "ok": not failed and bool(runs),
        "seconds": last_end - launched_at,  # launch to the last month's run ended
        "status_seconds": status_at - launched_at,
        "runs": len(runs),
        "most_at_once": max((sum(1 for s, e in spans if s <= start < e) for start, _ in spans), default=0),
        "busy_seconds": union_seconds(spans),
        "to_first_run_created": min(r["created"] for r in runs) - launched_at if runs else None,
        "to_first_run_started": min((r["start"] for r in ended), default=launched_at) - launched_at,
        "submitting_seconds": max(r["created"] for r in runs) - min(r["created"] for r in runs) if runs else 0.0,
        "stage_seconds": stage_sums(ended),
        "per_run": [],
    }
    previous_end = None
    for r in ended:
        r.setdefault("starting", r["start"])
        ready = max(r["created"], previous_end or r["created"])
        figures["per_run"].append(
            {
                "month": r["month"],
                "status": r["status"],
                # The run may start (created; the month before has ended) until the queue dequeues it.
                "dequeue_wait": r.get("dequeued", r["starting"]) - ready,
                "launch": r["starting"] - r.get("dequeued", r["starting"]),
                "worker_start": r["start"] - r["starting"],
                "work": r["end"] - r["start"],
            }
        )
        previous_end = r["end"]
    return figures


def stage_sums(runs: list[dict]) -> dict[str, float]:
    """Seconds in each stage's steps over all runs (snapshot, training_set, model, ...)."""
    total: dict[str, float] = {}
    for run in runs:
        for stage, seconds in run["steps"].items():
            total[stage] = total.get(stage, 0.0) + seconds
    return total


def union_seconds(spans: list[tuple[float, float]]) -> float:
    """Seconds covered by at least one of the (start, end) spans."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(spans):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def same_results(a: Path, b: Path) -> bool:
    """Published lists, registry and gate results of the two warehouses are equal (the backfill tests' digests)."""
    from churn_assets_tests.support.backfills import digests

    return digests(a) == digests(b)


# -- printing -------------------------------------------------------------------------------------------
def print_sequential(s: dict) -> None:
    work = sum(s["work_seconds"].values())
    print(
        f"(a) churn-assets run      {s['seconds']:7.1f} s   load {s['load_before']} -> {s['load_after']}\n"
        f"      start-up (process, imports, definitions) {s['startup_seconds']:.1f} s; months' work {work:.1f} s "
        f"({s['runs']} runs: {', '.join(f'{v:.1f}' for v in s['work_seconds'].values())}); between months "
        f"{s['between_runs_seconds']:.1f} s; exit {s['exit_seconds']:.1f} s"
    )


def print_backfill(label: str, b: dict, seq: dict) -> None:
    if "seconds" not in b:
        print(f"{label}  no figure: {b['status']}")
        return
    ratio = b["seconds"] / seq["seconds"]
    print(
        f"{label}  {b['seconds']:7.1f} s   ratio {ratio:.2f}   load {b['load_before']} -> {b['load_after']}   "
        f"{b['runs']} runs, at most {b['most_at_once']} at once, {b['status']}; status recorded at "
        f"{b['status_seconds']:.1f} s (ratio {b['status_seconds'] / seq['seconds']:.2f})"
    )
    idle = b["seconds"] - b["busy_seconds"]
    print(
        f"      launch -> first run created {b['to_first_run_created']:.1f} s (the backfill daemon's tick), "
        f"-> first run started {b['to_first_run_started']:.1f} s; a run executing {b['busy_seconds']:.1f} s, "
        f"none executing {idle:.1f} s; launched at a random moment the tick waits 15 s on average: ratio "
        f"{(b['seconds'] - b['to_first_run_created'] + 15) / seq['seconds']:.2f}"
    )
    per_run = b["per_run"]
    if per_run and len(per_run) <= 12:
        print("      month       dequeue wait   launch   worker start   work   (seconds; work in (a))")
        for r in per_run:
            print(
                f"      {r['month']}  {r['dequeue_wait']:12.1f} {r['launch']:8.1f} {r['worker_start']:14.1f} "
                f"{r['work']:6.1f}   ({seq['work_seconds'].get(r['month'], float('nan')):.1f})"
            )
    if per_run:
        total = {k: sum(r[k] for r in per_run) for k in ("dequeue_wait", "launch", "worker_start", "work")}
        extra = b["seconds"] - seq["seconds"]
        seq_work = sum(seq["work_seconds"].values())
        seq_own = seq["startup_seconds"] + seq["between_runs_seconds"] + seq["exit_seconds"]
        if b["most_at_once"] == 1:  # runs one after another: the backfill's time adds up to these
            print(
                f"      backfill - run = {extra:+.1f} s = launch wait {b['to_first_run_created']:.1f} + dequeue waits "
                f"{total['dequeue_wait']:.1f} + launches {total['launch']:.1f} + worker starts "
                f"{total['worker_start']:.1f} + work {total['work'] - seq_work:+.1f} ({total['work']:.1f} vs "
                f"{seq_work:.1f}) - run's start-up, between months and exit {seq_own:.1f}"
            )
        stages = sorted(b["stage_seconds"], key=lambda k: -abs(b["stage_seconds"][k] - seq["stage_seconds"].get(k, 0)))
        outside = total["work"] - sum(b["stage_seconds"].values())
        seq_outside = seq_work - sum(seq["stage_seconds"].values())
        print(
            "      work by stage, backfill vs run: "
            + ", ".join(f"{k} {b['stage_seconds'][k]:.1f} vs {seq['stage_seconds'].get(k, 0):.1f}" for k in stages)
            + f"; in runs outside steps {outside:.1f} vs {seq_outside:.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--quick", action="store_true", help="3,000 customers")
    parser.add_argument("--repeat", type=int, default=1, help="pairs (a, b), alternating which goes first")
    parser.add_argument("--instance", choices=["local", "deployed"], default="local")
    parser.add_argument("--asset-backfill", action="store_true", help="also the asset backfill (slow path)")
    parser.add_argument("--keep", help="keep the worlds and logs in this folder")
    parser.add_argument("--json")
    args = parser.parse_args()
    customers = 3_000 if args.quick else args.customers
    os.environ.setdefault("CHURN_TRAIN_THREADS", "1")
    size = f"{customers:,} customers x {args.months} months"
    c.header(f"job backfill ({args.instance} instance) vs churn-assets run: {size}")
    print(f"uptime    {uptime()}")
    print(f"code      {code()}")

    work = Path(args.keep or tempfile.mkdtemp(prefix="churn_bench_backfill_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        seeded = work / "seeded"
        seeded.mkdir()
        c.seed_source(seeded / "warehouse.duckdb", customers, months=args.months, end_month=LAST)
        first = c.add_months(LAST, -(args.months - 1))
        months = [c.add_months(first, i).isoformat() for i in range(args.months)]
        raw = c.shipped_catalog()
        raw["partitions_start"] = first.isoformat()
        catalog = c.write_catalog(raw, work / "models.yaml")

        def world(name: str) -> Path:
            home = work / name
            home.mkdir()
            shutil.copy(seeded / "warehouse.duckdb", home / "warehouse.duckdb")
            return home

        pairs = []
        for i in range(args.repeat):
            pair = {}
            for path in ("a", "b") if i % 2 == 0 else ("b", "a"):
                home = world(f"{path}{i}")
                if path == "a":
                    pair["a"], pair["a_home"] = sequential(home, catalog), home
                else:
                    pair["b"] = through_the_daemon(home, catalog, months, "job", args.instance, work / f"logs_b{i}")
                    pair["b_home"] = home
            pair["same"] = pair["a"]["ok"] and pair["b"]["ok"] and same_results(pair["a_home"], pair["b_home"])
            print(f"-- pair {i + 1} of {args.repeat} ({'a then b' if i % 2 == 0 else 'b then a'}), {uptime()}")
            if not pair["a"]["ok"]:
                raise SystemExit("churn-assets run failed: no figure")
            print_sequential(pair["a"])
            print_backfill("(b) job backfill        ", pair["b"], pair["a"])
            print(f"      same lists, registry and gate results in both warehouses: {pair['same']}")
            pairs.append(pair)

        ok = all(p["b"]["ok"] and p["same"] for p in pairs)
        best_a = min(p["a"]["seconds"] for p in pairs)
        best_b = min((p["b"]["seconds"] for p in pairs if p["b"]["ok"]), default=None)
        ratios = [p["b"]["seconds"] / p["a"]["seconds"] for p in pairs if p["b"]["ok"]]
        print(f"== {customers:,} customers x {args.months} months, {len(pairs)} pair(s), {uptime()}")
        if ok and best_b is not None:
            ratio = best_b / best_a
            print(
                f"best of each: churn-assets run {best_a:.1f} s, job backfill {best_b:.1f} s: ratio {ratio:.2f} "
                f"(pairs: {', '.join(f'{r:.2f}' for r in ratios)}; median {statistics.median(ratios):.2f})   "
                f"target <= {TARGET_RATIO}: {c.verdict(ratio <= TARGET_RATIO)}"
            )
        else:
            ratio = None
            print(f"a backfill failed or differs from churn-assets run: no figure, target: {c.verdict(False)}")

        asset = None
        if args.asset_backfill:
            home = world("asset")
            asset = through_the_daemon(home, catalog, months, "asset", args.instance, work / "logs_asset")
            print_backfill("(c) asset backfill      ", asset, pairs[-1]["a"])
            asset["same"] = asset["ok"] and same_results(pairs[-1]["a_home"], home)
            print(f"      same results as churn-assets run: {asset['same']}")

        c.save_json(
            args.json,
            {
                "customers": customers,
                "months": args.months,
                "instance": args.instance,
                "pairs": [{"a": p["a"], "b": p["b"], "same": p["same"]} for p in pairs],
                "ratio": ratio,
                "asset_backfill": asset,
            },
        )
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Months the Dagster way: a backfill launched through GraphQL, run by the daemon with four runs
allowed at once on a PostgreSQL instance, gives what `churn-assets run` gives month by month:
the same published lists, registry (versions, promotions, champions) and gate results, the
reference month each gate used included; compared by digest of the warehouse tables.

The month-to-month dependencies declared in the asset graph (snapshot, model and predictions on
their previous month) are what make Dagster order the months; without them the backfill ran
months side by side and judged against the wrong month (issue 13).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess

import pytest

from churn_assets.simulate.incidents import apply_incident
from churn_assets_tests.support.backfills import (
    ASSETS,
    FIRST,
    LAST,
    LAUNCH,
    MONTHS,
    backfill_finished,
    digests,
    launch_backfill,
)
from churn_assets_tests.support.pipeline import CLI, query, seed, shipped_catalogue_with
from churn_assets_tests.support.services import (
    REPO,
    VENV_BIN,
    Process,
    free_port,
    graphql,
    processes,
    wait_until,
    webserver_process,
    webserver_ready,
)

# Dagster's backfill daemon evaluates every 30 s (a constant with no public setting), and an asset
# backfill advances a self-dependent month at most once per evaluation: minutes, not seconds.
BACKFILL_MINUTES = 30


@pytest.fixture
def catalogue(tmp_path):
    """The shipped catalogue, its partitions starting at the first seeded month."""

    def start_at_first_month(data):
        data["partitions_start"] = FIRST

    folder = tmp_path / "catalogue"
    folder.mkdir()
    return shipped_catalogue_with(folder, start_at_first_month)


def world(tmp_path, name, incident=None):
    """A seeded warehouse of its own, with `incident` (name, month) applied to its source."""
    home = tmp_path / name
    home.mkdir()
    seed(home, customers=3000, months=6, end_month=LAST)
    if incident:
        apply_incident(str(home / "warehouse.duckdb"), *incident)
    return home


def sequential_run(tmp_path, catalogue, incident=None) -> tuple:
    """`churn-assets run` as a user runs it, in its own process (its own warehouse and local
    instance) while a backfill waits on the daemon; returns (home, process)."""
    home = world(tmp_path, "sequential", incident)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_")}
    env.update({"CHURN_HOME": str(home), "CHURN_MODELS": str(catalogue), "CHURN_ENV": "local"})
    process = subprocess.Popen([CLI, "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return home, process


def backfill_through_the_daemon(tmp_path, catalogue, deployment_env, launch, incident=None):
    """A world of its own, a webserver and the daemon on the deployed (PostgreSQL) instance, and a
    backfill launched through GraphQL by `launch(port, asset_keys)`; returns (home, backfill id, status)."""
    backfilled = world(tmp_path, "backfill", incident)
    env = {**deployment_env, "CHURN_ENV": "local", "CHURN_HOME": str(backfilled), "CHURN_MODELS": str(catalogue)}
    web_port = free_port()
    logs = tmp_path / "logs"
    logs.mkdir()
    workspace = str(REPO / "workspace.yaml")
    with processes(logs) as started:
        started.append(webserver_process(web_port, workspace, env, logs))
        started.append(
            # `dagster-daemon run` as deployed, with Dagster's own 30 s backfill evaluations.
            Process("daemon", [str(VENV_BIN / "dagster-daemon"), "run", "-w", workspace], env, logs)
        )
        wait_until(lambda: webserver_ready(web_port), 120, "the webserver", started)
        keys = wait_until(
            lambda: [node["assetKey"] for node in graphql(web_port, ASSETS)["assetNodes"]], 120, "the assets", started
        )
        backfill_id = launch(web_port, keys)
        status = wait_until(
            lambda: backfill_finished(web_port, backfill_id),
            BACKFILL_MINUTES * 60,
            "the backfill to complete",
            started,
            interval=2,
        )
    return backfilled, backfill_id, status


def failed_runs(instance, runs) -> dict:
    """Each run that did not succeed, with its failure events (for the assertion message)."""
    from dagster import DagsterEventType

    return {
        run.run_id: [
            f"{e.step_key or ''} {e.dagster_event.message if e.dagster_event else e.user_message}"
            for e in instance.all_logs(run.run_id)
            if e.is_dagster_event
            and e.dagster_event.event_type in (DagsterEventType.RUN_FAILURE, DagsterEventType.STEP_FAILURE)
            or (e.is_dagster_event and e.dagster_event.event_type == DagsterEventType.ENGINE_EVENT and e.error_info)
        ]
        + [
            str(e.dagster_event.event_specific_data.error)
            for e in instance.all_logs(run.run_id)
            if e.is_dagster_event and getattr(e.dagster_event.event_specific_data, "error", None)
        ][:3]
        for run in runs
        if run.status.value != "SUCCESS"
    }


@pytest.mark.daemon
def test_a_backfill_through_the_daemon_equals_the_sequential_run(tmp_path, catalogue, deployment_env, monkeypatch):
    monkeypatch.setenv("CHURN_MODELS", str(catalogue))
    sequential, in_order = sequential_run(tmp_path, catalogue)
    backfilled, backfill_id, status = backfill_through_the_daemon(
        tmp_path, catalogue, deployment_env, lambda port, keys: launch_backfill(port, MONTHS, keys)
    )

    from dagster import DagsterInstance, RunsFilter

    for key, value in deployment_env.items():
        if key.startswith("DAGSTER_"):
            monkeypatch.setenv(key, value)

    with DagsterInstance.from_config(deployment_env["DAGSTER_HOME"]) as instance:
        runs = instance.get_runs(RunsFilter(tags={"dagster/backfill": backfill_id}))
        failed = failed_runs(instance, runs)
        assert status == "COMPLETED_SUCCESS" and runs and not failed, (status, failed)
        assert instance.run_coordinator.get_run_queue_config().max_concurrent_runs >= 4
        spans = sorted(
            (record.start_time, record.end_time)
            for record in instance.get_run_records(RunsFilter(tags={"dagster/backfill": backfill_id}))
        )
    overlapping = max(sum(1 for s, e in spans if s <= start < e) for start, _ in spans)
    print(f"backfill: {len(runs)} runs, at most {overlapping} at once")

    output, _ = in_order.communicate(timeout=900)
    assert in_order.returncode == 0, output
    lines = {tuple(line.split()[0:4:3]): line for line in output.splitlines() if line.startswith("2025-")}
    # The first months have nothing to train (churn's labels mature after 3 months): snapshot only.
    assert lines[("2025-01-01", "churn")].endswith("snapshot only: no labelled month yet"), output
    # Published; April's yearly price rise moves monthly_charges, which the drift gate may warn about.
    april = lines[("2025-04-01", "churn")]
    assert april.endswith("published") or "published (warning: churn/feature_drift:feature_drift" in april, output

    assert digests(backfilled) == digests(sequential)
    later = query(backfilled, "SELECT DISTINCT asset FROM churn.gate_results WHERE month > ?", [MONTHS[-1]])
    assert all(asset.endswith("/list_outcome") for asset in later["asset"]), later  # only lists judged later


DROPPED = "2025-04-01"  # the month whose volume drops by 70 %


def launch_job_backfill(port: int, months: list[str]) -> str:
    """Jobs -> all_models_monthly -> Backfill, as README shows it: one run per month."""
    selector = {
        "partitionSetName": "all_models_monthly_partition_set",
        "repositorySelector": {"repositoryLocationName": "churn_assets", "repositoryName": "__repository__"},
    }
    launched = graphql(port, LAUNCH, {"params": {"selector": selector, "partitionNames": months}})[
        "launchPartitionBackfill"
    ]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    return launched["backfillId"]


@pytest.mark.daemon
def test_a_job_backfill_runs_months_in_order_and_blocks_a_volume_drop(tmp_path, catalogue, deployment_env, monkeypatch):
    monkeypatch.setenv("CHURN_MODELS", str(catalogue))
    incident = ("volume-drop", dt.date.fromisoformat(DROPPED))
    sequential, in_order = sequential_run(tmp_path, catalogue, incident)
    backfilled, backfill_id, status = backfill_through_the_daemon(
        tmp_path, catalogue, deployment_env, lambda port, keys: launch_job_backfill(port, MONTHS), incident
    )

    from dagster import DagsterInstance, RunsFilter

    for key, value in deployment_env.items():
        if key.startswith("DAGSTER_"):
            monkeypatch.setenv(key, value)
    with DagsterInstance.from_config(deployment_env["DAGSTER_HOME"]) as instance:
        assert instance.run_coordinator.get_run_queue_config().max_concurrent_runs >= 4
        records = instance.get_run_records(RunsFilter(tags={"dagster/backfill": backfill_id}))
        failed = failed_runs(instance, [record.dagster_run for record in records])
    assert status in ("COMPLETED", "COMPLETED_FAILED", "COMPLETED_SUCCESS"), status
    by_month = {record.dagster_run.tags["dagster/partition"]: record for record in records}
    assert sorted(by_month) == MONTHS, sorted(by_month)
    # Only the dropped month failed, stopped by its data contract (a blocking check), not by an error.
    assert [by_month[DROPPED].dagster_run.run_id] == list(failed), failed
    assert any("blocking asset check" in line for line in failed[by_month[DROPPED].dagster_run.run_id]), failed
    # Runs were created in month order, and no month started before the month before it had ended.
    created = sorted(records, key=lambda record: record.create_timestamp)
    assert [r.dagster_run.tags["dagster/partition"] for r in created] == MONTHS
    for earlier, later in zip(MONTHS, MONTHS[1:]):
        assert by_month[later].start_time >= by_month[earlier].end_time, (earlier, later)

    output, _ = in_order.communicate(timeout=900)
    assert in_order.returncode != 0, output  # the dropped month is not published
    contract = query(
        backfilled,
        "SELECT passed, summary FROM churn.gate_results WHERE asset = 'customers/snapshot' AND month = ?",
        [dt.date.fromisoformat(DROPPED)],
    )
    assert not contract["passed"].iloc[0] and "row count" in contract["summary"].iloc[0], contract
    published = query(backfilled, "SELECT DISTINCT month FROM churn.published_predictions")
    assert dt.date.fromisoformat(DROPPED) not in set(published["month"].dt.date)
    assert digests(backfilled) == digests(sequential)

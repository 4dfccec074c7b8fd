"""One environment's deployment as deploy/ describes it, as processes on this machine (the same,
as containers, is `make test-stack`): a PostgreSQL-backed instance (deploy/dagster.yaml), the
gRPC code server started with the image's CMD (deploy/Dockerfile), and dagster-webserver and
dagster-daemon on deploy/workspace.yaml. A monthly run is launched through the GraphQL API,
queued, run, and its check evaluations land in PostgreSQL.

The code server runs the local DuckDB warehouse (a Snowflake cannot be faked across processes);
the Snowflake code path itself is tested in test_snowflake_dev.py.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess

import psycopg2  # dagster-postgres's driver
import pytest

from churn_assets_tests.support.pipeline import run_pipeline, seed
from churn_assets_tests.support.postgres import PG
from churn_assets_tests.support.services import (
    REPO,
    VENV_BIN,
    Process,
    code_server_args,
    dockerfile_command,
    dockerfile_instructions,
    free_port,
    loaded_locations,
    port_open,
    processes,
    wait_until,
    webserver_process,
    webserver_ready,
)

# dagster-graphql's client calls gql with arguments gql now deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:Using variable_values:DeprecationWarning")

END = dt.date(2025, 6, 1)
MONTH = END.isoformat()
MODEL = "churn"
RUN_TIMEOUT = 300


def test_image_serves_the_code_location_as_this_test_starts_it():
    instructions = dockerfile_instructions()
    # The base image is a build argument (built from Debian packages by deploy/stack.py base).
    assert instructions[:2] == [("ARG", "BASE_IMAGE=churn-assets-base:bookworm"), ("FROM", "${BASE_IMAGE}")]
    command = dockerfile_command()
    assert command[:3] == ["dagster", "code-server", "start"]
    assert command[command.index("--module-name") + 1] == "churn_assets"
    assert command[command.index("--host") + 1] == "0.0.0.0"
    port = command[command.index("--port") + 1]
    assert ("EXPOSE", port) in instructions
    (health,) = [arguments for keyword, arguments in instructions if keyword == "HEALTHCHECK"]
    assert "grpc-health-check" in health and f'"--port", "{port}"' in health
    env = next(arguments for keyword, arguments in instructions if keyword == "ENV" and "DAGSTER_HOME" in arguments)
    home = re.search(r"DAGSTER_HOME=(\S+)", env).group(1)
    assert ("COPY", f"deploy/dagster.yaml deploy/workspace.yaml {home}/") in instructions
    # The dependency layer (pinned wheels) comes before the project's wheel, which the Build stage
    # built and tested; it does not run as root.
    copies = [arguments for keyword, arguments in instructions if keyword == "COPY"]
    assert copies.index("dist/deps/ /tmp/deps/") < copies.index("dist/churn_assets-*.whl /tmp/wheels/")
    assert ("USER", "churn") in instructions


def test_instance_config_is_postgres_and_queued(deployment_env, monkeypatch):
    for key, value in deployment_env.items():
        monkeypatch.setenv(key, value)
    from dagster import DagsterInstance
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

    with DagsterInstance.from_config(deployment_env["DAGSTER_HOME"]) as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        queue = instance.run_coordinator.get_run_queue_config()
        # Months of the environment one at a time (churn/env), and never two runs of one month.
        for key in ("churn/env", "dagster/partition"):
            assert {"key": key, "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in queue.tag_concurrency_limits
    # No secret in the file: every connection setting is an environment variable.
    text = (REPO / "deploy" / "dagster.yaml").read_text()
    for variable in (
        "DAGSTER_POSTGRES_HOST",
        "DAGSTER_POSTGRES_USER",
        "DAGSTER_POSTGRES_PASSWORD",
        "DAGSTER_POSTGRES_DB",
    ):
        assert f"{{env: {variable}}}" in text


def test_monthly_run_launched_through_graphql_on_the_postgres_instance(tmp_path, deployment_env, postgres_database):
    from dagster import DagsterRunStatus
    from dagster_graphql import DagsterGraphQLClient

    # The warehouse the dev location's runs use: every month before the last already run.
    churn_home = tmp_path / "churn"
    churn_home.mkdir()
    seed(churn_home, customers=3000, months=6, end_month=END)  # enough positives to judge the first holdout
    assert run_pipeline(churn_home, last=dt.date(2025, 5, 1), models=[MODEL]).all_succeeded

    code_port, web_port = free_port(), free_port()
    env = {
        **deployment_env,
        "CHURN_CODE_SERVER_HOST": "127.0.0.1",
        "CHURN_CODE_SERVER_PORT": str(code_port),
        "CHURN_ENV": "local",
        "CHURN_HOME": str(churn_home),
    }
    workspace = str(REPO / "deploy" / "workspace.yaml")
    logs = tmp_path / "logs"
    logs.mkdir()

    with processes(logs) as started:
        started.append(Process("code-server", code_server_args(code_port), env, logs))
        started.append(webserver_process(web_port, workspace, env, logs))
        started.append(Process("daemon", [str(VENV_BIN / "dagster-daemon"), "run", "-w", workspace], env, logs))

        wait_until(lambda: port_open(code_port), 120, "the code server", started)
        # The image's HEALTHCHECK answers against a running code server.
        health = subprocess.run(
            [str(VENV_BIN / "dagster"), "api", "grpc-health-check", "--port", str(code_port)],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert health.returncode == 0, health.stdout + health.stderr
        wait_until(lambda: webserver_ready(web_port), 120, "the webserver", started)
        locations = wait_until(lambda: loaded_locations(web_port) or None, 120, "the code location", started)
        # One instance per environment: its workspace holds its one code location.
        assert locations == {"churn_assets": "RepositoryLocation"}, locations

        client = DagsterGraphQLClient("127.0.0.1", port_number=web_port, timeout=60)
        # Two runs of the same month, submitted together: the queue must not let them overlap.
        run_ids = [
            client.submit_job_execution(
                f"{MODEL}_monthly",
                repository_location_name="churn_assets",
                repository_name="__repository__",
                tags={"dagster/partition": MONTH, "churn/trigger": "graphql test"},
            )
            for _ in range(2)
        ]

        def finished():
            statuses = [client.get_run_status(run_id) for run_id in run_ids]
            failed = [s for s in statuses if s in (DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)]
            assert not failed, f"runs {run_ids} ended {statuses}:\n" + "\n".join(p.output()[-3000:] for p in started)
            return all(s == DagsterRunStatus.SUCCESS for s in statuses)

        wait_until(finished, RUN_TIMEOUT, "both monthly runs to succeed", started, interval=2)

    # Everything below is read back from PostgreSQL itself.
    connection = psycopg2.connect(dbname=postgres_database, **PG)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT run_id, status, start_time, end_time FROM runs WHERE run_id = ANY(%s)", [run_ids])
            runs = {row[0]: row[1:] for row in cursor.fetchall()}
            cursor.execute(
                "SELECT run_id, asset_key, check_name, partition, execution_status FROM asset_check_executions WHERE "
                "run_id = ANY(%s)",
                [run_ids],
            )
            checks = cursor.fetchall()
            cursor.execute(
                "SELECT count(*) FROM event_logs WHERE run_id = ANY(%s) AND dagster_event_type = "
                "'ASSET_CHECK_EVALUATION'",
                [run_ids],
            )
            (evaluation_events,) = cursor.fetchone()
            cursor.execute(
                "SELECT count(*) FROM event_logs WHERE run_id = ANY(%s) AND dagster_event_type = "
                "'ASSET_MATERIALIZATION' "
                "AND partition = %s",
                [run_ids, MONTH],
            )
            (materialisations,) = cursor.fetchone()
    finally:
        connection.close()

    assert set(runs) == set(run_ids) and all(status == "SUCCESS" for status, _, _ in runs.values()), runs
    (first_start, first_end), (second_start, second_end) = sorted((start, end) for _, start, end in runs.values())
    assert second_start >= first_end, f"two runs of {MONTH} overlapped: {runs}"

    for run_id in run_ids:
        # Dagster records each check of the run as planned (with the partition), then its evaluation.
        planned = {row[2] for row in checks if row[0] == run_id and row[3] == MONTH}
        succeeded = {row[2] for row in checks if row[0] == run_id and row[4] == "SUCCEEDED"}
        for check in ("data_contract", "holdout_auc", "top_k_overlap"):
            assert check in planned and check in succeeded, (run_id, check, checks)
    assert evaluation_events >= 6
    assert materialisations >= 2 * 5  # snapshot, training set, model, predictions, published: twice

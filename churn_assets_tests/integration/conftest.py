"""Fixtures of the tests that run Dagster's deployed processes on the machine's PostgreSQL."""

import os
import uuid
from pathlib import Path

import psycopg2  # dagster-postgres's driver
import pytest
import yaml

from churn_assets_tests.integration.snowflake_fixtures import REPO

PG = {
    "host": os.environ.get("CHURN_TEST_PG_HOST", "127.0.0.1"),
    "port": int(os.environ.get("CHURN_TEST_PG_PORT", "5432")),
    "user": os.environ.get("CHURN_TEST_PG_USER", "postgres"),
    "password": os.environ.get("CHURN_TEST_PG_PASSWORD", ""),
}


def _admin():
    connection = psycopg2.connect(dbname="postgres", **PG)
    connection.autocommit = True
    return connection


@pytest.fixture
def postgres_database():
    """A database of its own on the machine's PostgreSQL, dropped afterwards."""
    name = f"churn_deploy_{uuid.uuid4().hex[:12]}"
    try:
        admin = _admin()
    except psycopg2.OperationalError as exc:  # pragma: no cover - the machine always has one
        pytest.fail(f"PostgreSQL on {PG['host']}:{PG['port']} is needed for this test: {exc}")
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [name],
            )
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


def write_process_launched_instance(home: Path) -> None:
    """deploy/dagster.yaml into `home` with runs launched as processes (DefaultRunLauncher) instead
    of containers: the deployed instance for tests and benchmarks that run no Docker."""
    instance = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())
    assert instance["run_launcher"]["class"] == "DockerRunLauncher", "deploy/dagster.yaml changed its launcher"
    instance["run_launcher"] = {"module": "dagster.core.launcher", "class": "DefaultRunLauncher"}
    (home / "dagster.yaml").write_text(yaml.safe_dump(instance))


@pytest.fixture
def deployment_env(tmp_path, postgres_database):
    """Environment variables a deployment sets (docs/deployment.md), pointed at this machine, and
    deploy/dagster.yaml as the instance, with one change: runs start as processes of the code
    server (DefaultRunLauncher) instead of containers, which `make test-stack` runs for real."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    write_process_launched_instance(home)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CHURN_", "DAGSTER_"))}
    return {
        **base,
        "DAGSTER_HOME": str(home),
        "DAGSTER_POSTGRES_HOST": PG["host"],
        "DAGSTER_POSTGRES_PORT": str(PG["port"]),
        "DAGSTER_POSTGRES_USER": PG["user"],
        "DAGSTER_POSTGRES_PASSWORD": PG["password"],
        "DAGSTER_POSTGRES_DB": postgres_database,
        "CHURN_TRAIN_THREADS": os.environ.get("CHURN_TRAIN_THREADS", "1"),
    }


@pytest.fixture
def receiver(monkeypatch):
    """A real local HTTP server as the alerts' generic webhook (test_alerts.py has its own, with
    every channel)."""
    from churn_assets_tests.integration.test_alerts import Receiver

    server = Receiver()
    monkeypatch.setenv("CHURN_ALERT_WEBHOOK_URL", server.url + "/hook")
    yield server
    server.server.shutdown()

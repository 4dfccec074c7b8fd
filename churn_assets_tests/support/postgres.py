"""The machine's PostgreSQL (where tests and benchmarks put the deployed instance's databases) and
deploy/dagster.yaml as that instance, its runs launched as processes."""

import os
from pathlib import Path

import psycopg2  # dagster-postgres's driver
import yaml

from churn_assets_tests.support.services import REPO

PG = {
    "host": os.environ.get("CHURN_TEST_PG_HOST", "127.0.0.1"),
    "port": int(os.environ.get("CHURN_TEST_PG_PORT", "5432")),
    "user": os.environ.get("CHURN_TEST_PG_USER", "postgres"),
    "password": os.environ.get("CHURN_TEST_PG_PASSWORD", ""),
}


def _admin():
    """An autocommitting connection to the server's `postgres` database (to create and drop databases)."""
    connection = psycopg2.connect(dbname="postgres", **PG)
    connection.autocommit = True
    return connection


def write_process_launched_instance(home: Path) -> None:
    """deploy/dagster.yaml into `home` with runs launched as processes (DefaultRunLauncher) instead
    of containers: the deployed instance for tests and benchmarks that run no Docker."""
    instance = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())
    assert instance["run_launcher"]["class"] == "DockerRunLauncher", "deploy/dagster.yaml changed its launcher"
    instance["run_launcher"] = {"module": "dagster.core.launcher", "class": "DefaultRunLauncher"}
    (home / "dagster.yaml").write_text(yaml.safe_dump(instance))

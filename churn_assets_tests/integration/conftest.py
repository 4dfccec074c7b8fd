"""Fixtures of the integration tests: Dagster's deployed processes on the machine's PostgreSQL, a
local alert webhook, and the webserver on the completed warehouse."""

import os
import shutil
import subprocess
import time
import urllib.request
import uuid

import psycopg2  # dagster-postgres's driver
import pytest

from churn_assets_tests.support.pipeline import dagster_instance
from churn_assets_tests.support.postgres import PG, _admin, write_process_launched_instance
from churn_assets_tests.support.services import VENV_BIN, free_port


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
    from churn_assets_tests.support.alerting import Receiver

    server = Receiver()
    monkeypatch.setenv("CHURN_ALERT_WEBHOOK_URL", server.url + "/hook")
    yield server
    server.server.shutdown()


@pytest.fixture(scope="module")
def webserver(completed_home, tmp_path_factory):
    """dagster-webserver on a copy of the completed warehouse and its run history: (URL, home)."""
    home = tmp_path_factory.mktemp("ui")
    shutil.copy(completed_home / "warehouse.duckdb", home / "warehouse.duckdb")
    shutil.copytree(completed_home / "dagster", home / "dagster")  # the run history of every month
    dagster_instance(home)  # writes the project's instance config into home/dagster
    port = free_port()
    env = {**os.environ, "CHURN_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    log = open(home / "webserver.log", "w")
    process = subprocess.Popen(
        [str(VENV_BIN / "dagster-webserver"), "-m", "churn_assets", "-h", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(url + "/server_info", timeout=2)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "webserver did not start: " + (home / "webserver.log").read_text()[-2000:]
                    ) from None
                time.sleep(0.5)
        yield url, home
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()

"""Shared helpers for the dev/prod tests: a fake Snowflake (fakesnow's in-process patch) holding
the simulated source, environments built from known fake credentials, and Dagster server
processes (code server, webserver, daemon) on free loopback ports, always stopped.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent

# Known fake credentials: the secrets test asserts none of these values is ever shown.
FAKE_CREDENTIALS = {
    "CHURN_SNOWFLAKE_ACCOUNT": "fakeacct-q7w3e9",
    "CHURN_SNOWFLAKE_USER": "fake_user_k2m8p4",
    "CHURN_SNOWFLAKE_PASSWORD": "Pw-3xq9-z7LmN2-never-shown",
}
FAKE_SETTINGS = {
    "CHURN_SNOWFLAKE_DATABASE": "CHURN_TEST",
    "CHURN_SNOWFLAKE_ROLE": "CHURN_DEV_RW",
    "CHURN_SNOWFLAKE_WAREHOUSE": "CHURN_XS",
}
SOURCE_SCHEMA = "ANALYTICS"
SOURCE_TABLE = "customer_features_monthly"


@contextmanager
def environment_variables(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set (or, for None, unset) environment variables for the block, then restore them."""
    previous = {key: os.environ.get(key) for key in values}
    try:
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def snowflake_variables(env: str = "dev", **overrides: str | None) -> dict[str, str | None]:
    """Every CHURN_SNOWFLAKE_* variable a deployment sets (fake values), plus CHURN_ENV."""
    cleared = {key: None for key in os.environ if key.startswith("CHURN_SNOWFLAKE_")}
    return {**cleared, "CHURN_ENV": env, **FAKE_CREDENTIALS, **FAKE_SETTINGS, **overrides}


@contextmanager
def fake_snowflake() -> Iterator[None]:
    """fakesnow's in-process patch of the connector (connect and write_pandas), one in-memory
    Snowflake for the block. Databases and schemas named at connection are created on connect."""
    import fakesnow

    with fakesnow.patch():
        yield


def admin_connection(schema: str | None = None):
    """A plain connector connection to the fake Snowflake (what an administrator would use)."""
    import snowflake.connector

    return snowflake.connector.connect(
        account="admin",
        user="admin",
        password="admin",
        database=FAKE_SETTINGS["CHURN_SNOWFLAKE_DATABASE"],
        schema=schema,
        paramstyle="qmark",
    )


def load_source_from_duckdb(duckdb_path: Path) -> int:
    """Copy the simulated source view's rows from a seeded DuckDB file into the fake Snowflake as
    table ANALYTICS.CUSTOMER_FEATURES_MONTHLY (what the data engineering team provides there).

    Column types follow the view: DATE stays DATE, nullable label columns stay numeric.
    """
    import duckdb
    import pyarrow as pa

    from churn_assets.warehouse.snowflake import SnowflakeWarehouse

    with duckdb.connect(str(duckdb_path), read_only=True) as conn:
        table = conn.sql(
            f"SELECT * FROM analytics.{SOURCE_TABLE} ORDER BY snapshot_month, customer_id"
        ).to_arrow_table()
    nullable_ints = {t: pd.Int64Dtype() for t in (pa.int8(), pa.int16(), pa.int32(), pa.int64())}
    frame = table.to_pandas(types_mapper=nullable_ints.get)  # dates arrive as datetime.date
    loader = SnowflakeWarehouse(
        account="admin",
        user="admin",
        password="admin",
        database=FAKE_SETTINGS["CHURN_SNOWFLAKE_DATABASE"],
        schema_name=SOURCE_SCHEMA,
    )
    loader.append_rows(SOURCE_TABLE, frame)
    return len(frame)


def schema_contents(schema: str) -> dict[str, pd.DataFrame]:
    """Every table of a schema of the fake Snowflake, sorted, for before/after comparisons."""
    with admin_connection() as conn:
        cursor = conn.cursor()
        tables = [
            row[0]
            for row in cursor.execute(
                f"SELECT table_name FROM {FAKE_SETTINGS['CHURN_SNOWFLAKE_DATABASE']}.information_schema.tables "
                "WHERE table_schema = ? ORDER BY table_name",
                [schema],
            ).fetchall()
        ]
        contents = {}
        for table in tables:
            frame = cursor.execute(f"SELECT * FROM {schema}.{table}").fetch_pandas_all()
            contents[table] = frame.sort_values(list(frame.columns[:3])).reset_index(drop=True) if len(frame) else frame
        return contents


# -- Dagster processes -----------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Process:
    """A server process in its own session (so its children stop with it), output to a file."""

    def __init__(self, name: str, args: list[str], env: Mapping[str, str], log_dir: Path, cwd: Path = REPO):
        self.name = name
        self.log = log_dir / f"{name}.log"
        self._file = open(self.log, "wb")
        self.popen = subprocess.Popen(
            args, env=dict(env), cwd=cwd, stdout=self._file, stderr=subprocess.STDOUT, start_new_session=True
        )

    def output(self) -> str:
        self._file.flush()
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 20) -> None:
        if self.alive():
            try:
                os.killpg(self.popen.pid, signal.SIGTERM)
                self.popen.wait(timeout=timeout)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.popen.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.popen.wait(timeout=5)
        else:
            # The group may still hold children (a run worker) after its leader exited.
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._file.close()


def webserver_process(port: int, workspace: str, env: Mapping[str, str], log_dir: Path) -> Process:
    """dagster-webserver on 127.0.0.1:`port` serving `workspace`."""
    args = [str(VENV_BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-w", workspace]
    return Process("webserver", args, env, log_dir)


@contextmanager
def processes(log_dir: Path) -> Iterator[list[Process]]:
    """Collects started processes and stops every one of them, whatever happens."""
    started: list[Process] = []
    try:
        yield started
    finally:
        for process in reversed(started):
            process.stop()


def wait_until(predicate, timeout: float, what: str, processes_to_watch: list[Process] = (), interval: float = 0.5):
    """Poll `predicate` until it returns a truthy value; fail with the processes' output after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in processes_to_watch:
            if not process.alive():
                raise AssertionError(
                    f"{process.name} exited ({process.popen.returncode}) while waiting for "
                    f"{what}:\n{process.output()[-4000:]}"
                )
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    logs = "\n".join(f"--- {p.name} ---\n{p.output()[-3000:]}" for p in processes_to_watch)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{logs}")


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def dockerfile_instructions(path: Path = REPO / "deploy" / "Dockerfile") -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    instructions, current = [], ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        current += " " + stripped.removesuffix("\\").strip() if current else stripped.removesuffix("\\").strip()
        if not stripped.endswith("\\"):
            keyword, _, arguments = current.partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
            current = ""
    return instructions


def dockerfile_command(path: Path = REPO / "deploy" / "Dockerfile") -> list[str]:
    """The image's CMD (exec form), as the container would run it."""
    import json

    commands = [arguments for keyword, arguments in dockerfile_instructions(path) if keyword == "CMD"]
    assert len(commands) == 1, "deploy/Dockerfile needs exactly one CMD"
    return json.loads(commands[0])


def code_server_args(port: int) -> list[str]:
    """deploy/Dockerfile's CMD with this machine's venv and a loopback port (instead of 0.0.0.0:4000)."""
    args = dockerfile_command()
    assert args[:3] == ["dagster", "code-server", "start"], args
    args = [str(VENV_BIN / "dagster"), *args[1:]]
    args[args.index("--host") + 1] = "127.0.0.1"
    args[args.index("--port") + 1] = str(port)
    return args


def graphql(port: int, query: str, variables: dict | None = None, timeout: float = 30) -> dict:
    import json

    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = json.loads(response.read())
    assert "errors" not in body, body
    return body["data"]


def webserver_ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


LOCATIONS_QUERY = """
{ workspaceOrError { __typename ... on Workspace { locationEntries { name
    locationOrLoadError { __typename ... on RepositoryLocation { name } ... on PythonError { message } } } } } }
"""


def loaded_locations(port: int) -> dict[str, str]:
    """Location name -> 'RepositoryLocation' (loaded) or the load error's message."""
    data = graphql(port, LOCATIONS_QUERY)["workspaceOrError"]
    result = {}
    for entry in data.get("locationEntries", []):
        loaded = entry["locationOrLoadError"]
        if loaded is None:
            continue
        result[entry["name"]] = (
            loaded["__typename"] if loaded["__typename"] == "RepositoryLocation" else loaded.get("message", "")
        )
    return result


def month(value: str) -> dt.date:
    return dt.date.fromisoformat(value)

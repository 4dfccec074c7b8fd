"""The one place that turns CHURN_ENV into settings and resources (read at build time)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from churn_assets.code_references import repository_link
from churn_assets.errors import SettingsError
from churn_assets.warehouse import DuckDBWarehouse, Warehouse

ENVIRONMENTS = ("local", "dev", "prod")
REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Environment:
    """What differs between local, dev and prod."""

    name: str
    warehouse: Warehouse
    warehouse_kind: str
    schedules_running: bool
    check_sources_at_load: bool = False
    """Check the catalogue against the sources' columns when the definitions are built: cheap on a
    local DuckDB file; on Snowflake it would open a connection in every run process, so there
    `churn-assets check` does it instead (pipeline Tests stage)."""


def churn_home() -> Path:
    """Where local state lives: $CHURN_HOME, else `.churn/` in the working directory."""
    return Path(os.environ.get("CHURN_HOME") or Path.cwd() / ".churn").resolve()


def check_settings() -> None:
    """Settings every environment reads, checked when it loads (one line naming the variable), by
    the functions that read them at run time."""
    from churn_assets.modeling import threads

    try:
        threads()
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    repository_link()  # CHURN_GIT_URL / CHURN_GIT_COMMIT: both or neither, a host it can link to


def reports_dir() -> Path:
    """Where monthly HTML reports go: $CHURN_REPORTS_DIR, else `reports/` under CHURN_HOME."""
    return Path(os.environ.get("CHURN_REPORTS_DIR") or churn_home() / "reports").resolve()


def current_environment_name() -> str:
    name = (os.environ.get("CHURN_ENV") or "local").strip().lower()
    if name not in ENVIRONMENTS:
        raise SettingsError(f"CHURN_ENV={name!r} is not one of {', '.join(ENVIRONMENTS)}")
    return name


def load_environment(name: str | None = None) -> Environment:
    """Resources and switches for `name` (default: $CHURN_ENV, else local)."""
    name = name or current_environment_name()
    check_settings()
    if name == "local":
        home = churn_home()
        if home.exists() and not home.is_dir():
            raise SettingsError(f"CHURN_HOME={home} is a file, not a folder: point it at a folder for local state")
        database = home / "warehouse.duckdb"
        return Environment(
            name="local",
            warehouse=DuckDBWarehouse(database=str(database), schema_name="churn"),
            warehouse_kind="duckdb",
            schedules_running=False,
            check_sources_at_load=True,
        )
    return snowflake_environment(name)


# -- dev and prod: Snowflake ------------------------------------------------------------------
# Every setting is an environment variable (docs/deployment.md). Credentials reach the resource
# only as dagster.EnvVar: Dagster resolves them when a run starts and shows only their names.
SNOWFLAKE_REQUIRED = ("CHURN_SNOWFLAKE_ACCOUNT", "CHURN_SNOWFLAKE_USER", "CHURN_SNOWFLAKE_DATABASE")
SNOWFLAKE_AUTH = ("CHURN_SNOWFLAKE_PASSWORD", "CHURN_SNOWFLAKE_PRIVATE_KEY", "CHURN_SNOWFLAKE_PRIVATE_KEY_PATH")
SNOWFLAKE_KEY_PASSWORD = "CHURN_SNOWFLAKE_PRIVATE_KEY_PASSWORD"
# Snowflake identifiers this code writes into SQL unquoted (so upper-cased by Snowflake).
_SNOWFLAKE_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")


def snowflake_schema_default(name: str) -> str:
    return f"CHURN_{name.upper()}"


def snowflake_schema(name: str) -> str:
    """The environment's schema: $CHURN_SNOWFLAKE_SCHEMA, else CHURN_DEV / CHURN_PROD."""
    return (os.environ.get("CHURN_SNOWFLAKE_SCHEMA") or snowflake_schema_default(name)).strip().upper()


def snowflake_environment(name: str) -> Environment:
    """dev or prod: the same asset graph on one schema of a Snowflake database.

    Checks every setting before anything connects, and reports all that is wrong at once
    (one line, naming the variables to set), never a connector's stack trace.
    """
    env = {
        key: value.strip() for key, value in os.environ.items() if key.startswith("CHURN_SNOWFLAKE_") and value.strip()
    }
    schema = snowflake_schema(name)
    problems = snowflake_setting_problems(name, env, schema)
    if problems:
        raise SettingsError(
            f"CHURN_ENV={name} (Snowflake) cannot load: " + "; ".join(problems) + " (see docs/deployment.md)"
        )

    from dagster import EnvVar

    # Imports no Snowflake library: the connector and dagster-snowflake load on first connection.
    from churn_assets.warehouse.snowflake import SnowflakeWarehouse

    def secret(variable: str) -> EnvVar | None:
        return EnvVar(variable) if variable in env else None

    warehouse = SnowflakeWarehouse(
        account=EnvVar("CHURN_SNOWFLAKE_ACCOUNT"),
        user=EnvVar("CHURN_SNOWFLAKE_USER"),
        password=secret("CHURN_SNOWFLAKE_PASSWORD"),
        private_key=secret("CHURN_SNOWFLAKE_PRIVATE_KEY"),
        private_key_path=secret("CHURN_SNOWFLAKE_PRIVATE_KEY_PATH"),
        private_key_password=secret(SNOWFLAKE_KEY_PASSWORD),
        database=env["CHURN_SNOWFLAKE_DATABASE"].upper(),
        schema_name=schema,
        role=env.get("CHURN_SNOWFLAKE_ROLE"),
        warehouse=env.get("CHURN_SNOWFLAKE_WAREHOUSE"),
    )
    return Environment(
        name=name,
        warehouse=warehouse,
        warehouse_kind="snowflake",
        # prod runs the monthly schedule; dev is run by the pipeline's Train stage and by hand.
        schedules_running=name == "prod",
    )


def snowflake_setting_problems(name: str, env: dict[str, str], schema: str) -> list[str]:
    """Everything wrong with the CHURN_SNOWFLAKE_* settings of `name`, each as what to set."""
    problems = []
    missing = [variable for variable in SNOWFLAKE_REQUIRED if variable not in env]
    auth = [variable for variable in SNOWFLAKE_AUTH if variable in env]
    if not auth:
        missing.append("one of " + " / ".join(SNOWFLAKE_AUTH))
    if missing:
        problems.append("set " + ", ".join(missing))
    if len(auth) > 1:
        problems.append(f"set only one of {' / '.join(auth)} (password or key pair, not both)")
    key_path = env.get("CHURN_SNOWFLAKE_PRIVATE_KEY_PATH")
    if key_path and not Path(key_path).is_file():
        problems.append(f"CHURN_SNOWFLAKE_PRIVATE_KEY_PATH={key_path} is not a readable file")
    for variable, value in (
        ("CHURN_SNOWFLAKE_DATABASE", env.get("CHURN_SNOWFLAKE_DATABASE")),
        ("CHURN_SNOWFLAKE_SCHEMA", schema),
        ("CHURN_SNOWFLAKE_ROLE", env.get("CHURN_SNOWFLAKE_ROLE")),
        ("CHURN_SNOWFLAKE_WAREHOUSE", env.get("CHURN_SNOWFLAKE_WAREHOUSE")),
    ):
        if value and not _SNOWFLAKE_IDENTIFIER.match(value):
            problems.append(f"{variable}={value!r} is not a plain Snowflake identifier (letters, digits, _ and $)")
    if name == "dev" and schema == snowflake_schema_default("prod"):
        problems.append(
            f"CHURN_ENV=dev never writes to the prod schema {schema}: unset CHURN_SNOWFLAKE_SCHEMA or pick a dev schema"
        )
    return problems

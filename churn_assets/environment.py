"""The one place that turns CHURN_ENV into settings and resources (read at build time)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from churn_assets.warehouse import DuckDBWarehouse, Warehouse

ENVIRONMENTS = ("local", "dev", "prod")
REPO_ROOT = Path(__file__).resolve().parent.parent


class EnvironmentError_(ValueError):
    """CHURN_ENV or its settings are wrong; the message lists what to set."""


@dataclass(frozen=True)
class Environment:
    """What differs between local, dev and prod."""

    name: str
    warehouse: Warehouse
    warehouse_kind: str
    schedules_running: bool


def churn_home() -> Path:
    """Where local state lives: $CHURN_HOME, else `.churn/` in the working directory."""
    return Path(os.environ.get("CHURN_HOME") or Path.cwd() / ".churn").resolve()


def current_environment_name() -> str:
    name = (os.environ.get("CHURN_ENV") or "local").strip().lower()
    if name not in ENVIRONMENTS:
        raise EnvironmentError_(f"CHURN_ENV={name!r} is not one of {', '.join(ENVIRONMENTS)}")
    return name


def load_environment(name: str | None = None) -> Environment:
    """Resources and switches for `name` (default: $CHURN_ENV, else local)."""
    name = name or current_environment_name()
    if name == "local":
        database = churn_home() / "warehouse.duckdb"
        return Environment(
            name="local",
            warehouse=DuckDBWarehouse(database=str(database), schema_name="churn"),
            warehouse_kind="duckdb",
            schedules_running=False,
        )
    raise EnvironmentError_(
        f"CHURN_ENV={name} (Snowflake) is not available in this build yet; use CHURN_ENV=local."
    )

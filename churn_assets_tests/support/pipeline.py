"""The pipeline on a local churn home: a real DuckDB warehouse seeded by the simulator, months run
through a real (SQLite-backed) Dagster instance or the installed `churn-assets` command, the
shipped catalogue with a change, and what the warehouse and the instance hold afterwards."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

# A small business keeps the suite fast; the pipeline code path is the production one.
CUSTOMERS = 3_000
MONTHS = 10
END_MONTH = dt.date(2025, 6, 1)
FIRST_MONTH = dt.date(2024, 9, 1)


@contextmanager
def churn_home(path: Path):
    """Point the local environment at `path` for the duration of the block."""
    previous = os.environ.get("CHURN_HOME")
    os.environ["CHURN_HOME"] = str(path)
    try:
        yield path
    finally:
        if previous is None:
            os.environ.pop("CHURN_HOME", None)
        else:
            os.environ["CHURN_HOME"] = previous


def run_pipeline(home: Path, first=None, last=None, models=("churn",), force_snapshot=False, catalog=None):
    """Materialise months in order exactly as `churn-assets run` does; returns the RunReport.

    The shared small business (3,000 customers) is enough for `churn`; the rarer labels of the
    other models need more customers (see test_models.py)."""

    from churn_assets.catalog import load_catalog
    from churn_assets.environment import load_environment
    from churn_assets.monthly_run import run_months

    with churn_home(home):
        catalog = catalog or load_catalog()
        instance = dagster_instance(home)
        return run_months(
            catalog,
            load_environment("local"),
            instance,
            models=list(models) if models else list(catalog.models),
            first=first,
            last=last,
            force_snapshot=force_snapshot,
            echo=lambda line: None,
        )


def dagster_instance(home: Path):
    """The project's local instance (churn_assets/local_instance.py) in `home/dagster`."""
    from dagster import DagsterInstance

    from churn_assets.local_instance import prepare_local_instance

    return DagsterInstance.local_temp(str(prepare_local_instance(home / "dagster")))


def seed(home: Path, customers=CUSTOMERS, months=MONTHS, end_month=END_MONTH):
    from churn_assets.simulate import seed_duckdb

    return seed_duckdb(home / "warehouse.duckdb", customers=customers, months=months, seed=7, end_month=end_month)


# The installed `churn-assets` command, run as a user runs it (a new process, its own environment).
CLI = str(Path(sys.executable).parent / "churn-assets")


def cli(home: Path, *args, env_extra=None, timeout=120) -> subprocess.CompletedProcess:
    """`churn-assets ARGS` with CHURN_HOME=home (plus `env_extra`), output captured."""
    env = {**os.environ, "CHURN_HOME": str(home), **(env_extra or {})}
    return subprocess.run([CLI, *args], capture_output=True, text=True, env=env, timeout=timeout)


def shipped_catalogue_with(folder: Path, change) -> Path:
    """The shipped catalogue with `change` (a function on its parsed YAML) applied, written to
    `folder/models.yaml`."""
    import yaml

    from churn_assets.catalog import DEFAULT_CATALOG

    data = yaml.safe_load(DEFAULT_CATALOG.read_text())
    change(data)
    path = folder / "models.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def query(home: Path, sql: str, params=()):
    import duckdb

    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
        return conn.execute(sql, list(params)).df()


def latest_evaluation(home, asset: str, check: str):
    from dagster import AssetCheckKey, AssetKey

    key = AssetCheckKey(AssetKey(asset.split("/")), check)
    record = dagster_instance(home).event_log_storage.get_latest_asset_check_execution_by_key([key]).get(key)
    return record.event.dagster_event.event_specific_data if record and record.event else None

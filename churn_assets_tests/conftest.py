"""Shared fixtures: a real DuckDB warehouse seeded by the simulator, run month by month through
a real (SQLite-backed) Dagster instance."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from churn_assets.rules.months import add_months

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


@pytest.fixture(scope="session")
def seeded_home(tmp_path_factory) -> Path:
    """A seeded warehouse on which nothing has run yet (copy it before changing it)."""
    home = tmp_path_factory.mktemp("seeded")
    seed(home)
    return home


@pytest.fixture(scope="session")
def history_home(seeded_home, tmp_path_factory) -> Path:
    """A warehouse on which every month but the last has run once, in order."""
    home = tmp_path_factory.mktemp("history")
    shutil.copy(seeded_home / "warehouse.duckdb", home / "warehouse.duckdb")
    report = run_pipeline(home, last=add_months(END_MONTH, -1))
    assert report.all_succeeded, [m for m in report.months if not m.success]
    return home


@pytest.fixture(scope="session")
def completed_home(history_home, tmp_path_factory) -> Path:
    """A warehouse on which every month has run once, in order."""
    home = tmp_path_factory.mktemp("completed")
    shutil.copy(history_home / "warehouse.duckdb", home / "warehouse.duckdb")
    shutil.copytree(history_home / "dagster", home / "dagster")  # the whole run history, as the UI shows it
    report = run_pipeline(home, first=END_MONTH, last=END_MONTH)
    assert report.all_succeeded, [m for m in report.months if not m.success]
    return home


@pytest.fixture
def history_copy(history_home, tmp_path) -> Path:
    """A private copy of the warehouse before the last month ran (for incidents in that month)."""
    shutil.copy(history_home / "warehouse.duckdb", tmp_path / "warehouse.duckdb")
    return tmp_path


@pytest.fixture
def fresh_home(seeded_home, tmp_path) -> Path:
    """A private copy of the seeded warehouse, for tests that change the source."""
    shutil.copy(seeded_home / "warehouse.duckdb", tmp_path / "warehouse.duckdb")
    return tmp_path


@pytest.fixture
def completed_copy(completed_home, tmp_path) -> Path:
    """A private copy of the completed warehouse (Dagster history not copied)."""
    shutil.copy(completed_home / "warehouse.duckdb", tmp_path / "warehouse.duckdb")
    return tmp_path


# The installed `churn-assets` command, run as a user runs it (a new process, its own environment).
CLI = str(Path(sys.executable).parent / "churn-assets")


def cli(home: Path, *args, env_extra=None, timeout=120) -> subprocess.CompletedProcess:
    """`churn-assets ARGS` with CHURN_HOME=home (plus `env_extra`), output captured."""
    env = {**os.environ, "CHURN_HOME": str(home), **(env_extra or {})}
    return subprocess.run([CLI, *args], capture_output=True, text=True, env=env, timeout=timeout)


@pytest.fixture
def cli_here(monkeypatch, capsys):
    """`churn-assets ARGS` in this process (`churn_assets.cli.main`, the console script's entry),
    for tests of arguments and settings refused before any work: a new process would add only
    its imports (~3 s a call). Same result as `cli`: returncode, stdout, stderr."""

    def run(home: Path, *args, env_extra=None) -> subprocess.CompletedProcess:
        from churn_assets.cli import main

        with monkeypatch.context() as env:
            env.setenv("CHURN_HOME", str(home))
            for name, value in (env_extra or {}).items():
                env.setenv(name, value)
            try:
                code = main([str(a) for a in args])
            except SystemExit as exit_:  # argparse's usage errors
                code = exit_.code
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(["churn-assets", *map(str, args)], code, out, err)

    return run


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


def pytest_terminal_summary(terminalreporter):
    """Print the bad-input matrix when its tests ran (churn_assets_tests/integration/test_incidents.py)."""
    import sys

    module = sys.modules.get("churn_assets_tests.integration.test_incidents")
    if module is not None and module.MATRIX:
        terminalreporter.write_line("")
        for line in module.format_matrix():
            terminalreporter.write_line(line)

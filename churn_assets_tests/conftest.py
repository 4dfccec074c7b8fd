"""Shared fixtures: a real DuckDB warehouse seeded by the simulator, run month by month through
a real (SQLite-backed) Dagster instance."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from churn_assets.rules.months import add_months
from churn_assets_tests.support.pipeline import END_MONTH, run_pipeline, seed


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


@pytest.fixture
def cli_here(capsys):
    """`churn-assets ARGS` in this process (`churn_assets.cli.main`, the console script's entry),
    for tests of arguments and settings refused before any work: a new process would add only
    its imports (~3 s a call). Same result as `cli` (support/pipeline.py): returncode, stdout, stderr."""

    def run(home: Path, *args, env_extra=None) -> subprocess.CompletedProcess:
        from churn_assets.cli import main

        # The process environment as it was afterwards: a command may set variables for itself
        # (`run` points DAGSTER_HOME at the local instance), which must not reach later tests.
        saved = dict(os.environ)
        try:
            os.environ["CHURN_HOME"] = str(home)
            os.environ.update(env_extra or {})
            code = main([str(a) for a in args])
        except SystemExit as exit_:  # argparse's usage errors
            code = exit_.code
        finally:
            os.environ.clear()
            os.environ.update(saved)
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(["churn-assets", *map(str, args)], code, out, err)

    return run


def pytest_terminal_summary(terminalreporter):
    """Print the bad-input matrix when its tests ran (churn_assets_tests/integration/test_incidents.py)."""
    import sys

    module = sys.modules.get("churn_assets_tests.integration.test_incidents")
    if module is not None and module.MATRIX:
        terminalreporter.write_line("")
        for line in module.format_matrix():
            terminalreporter.write_line(line)

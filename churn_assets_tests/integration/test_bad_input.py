"""Held-out bad input, as a user types it: every case is one line on stderr and exit code 2 (or
the right result), never a traceback, and nothing is allocated or written before it is refused."""

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from churn_assets.catalog import DEFAULT_CATALOG
from churn_assets_tests.support.pipeline import END_MONTH, cli, query, shipped_catalogue_with


@pytest.fixture(scope="module")
def home(completed_home, tmp_path_factory):
    """A private copy of a warehouse on which every month has run (predictions stored)."""
    folder = tmp_path_factory.mktemp("bad-input")
    shutil.copy(completed_home / "warehouse.duckdb", folder / "warehouse.duckdb")
    return folder


def one_line_exit_2(result, message):
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert message in result.stderr, result.stderr


@pytest.mark.parametrize(
    "args, env_extra, message",
    [
        (["seed", "--seed", "-1"], {}, "--seed must be 0 or more, got -1"),
        # Refused before anything is allocated (it once tried to allocate 7 TiB).
        (["seed", "--customers", "1000000000000"], {}, "GiB of memory; this machine has"),
        (["sql", ""], {}, "the query is empty"),
        (["sql", "   "], {}, "the query is empty"),
        (["run"], {"CHURN_TRAIN_THREADS": "abc"}, "CHURN_TRAIN_THREADS='abc' must be a positive whole number"),
        (["run"], {"CHURN_MODELS": "/"}, "is a folder; point CHURN_MODELS at the catalogue file"),
    ],
)
def test_bad_arguments_and_settings(home, cli_here, args, env_extra, message):
    one_line_exit_2(cli_here(home, *args, env_extra=env_extra), message)


def test_a_churn_home_that_cannot_hold_local_state(tmp_path, cli_here):
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    one_line_exit_2(cli_here(a_file, "run"), f"CHURN_HOME={a_file} is a file, not a folder")
    one_line_exit_2(cli_here(a_file / "below", "seed"), "cannot be used for local state (Not a directory)")
    # A place nobody can create (procfs refuses new entries, even to root).
    one_line_exit_2(
        cli_here(Path("/proc/churn-home"), "seed"), "CHURN_HOME=/proc/churn-home cannot be used for local state"
    )


def test_champion_prints_the_version_that_scored_the_month_or_says_why_not(home, cli_here):
    result = cli(home, "champion", "--model", "churn", "--month", f"{END_MONTH:%Y-%m}")
    assert result.returncode == 0, result.stderr
    (scored,) = query(home, "SELECT DISTINCT model_version FROM churn.predictions WHERE model = 'churn' AND month = ?",
                      [END_MONTH])["model_version"]  # fmt: skip
    assert result.stdout.strip() == str(int(scored))  # only the number: the pipeline reads it
    unknown = cli_here(home, "champion", "--model", "churm", "--month", "2025-06")
    one_line_exit_2(unknown, "--model: unknown model 'churm'")
    one_line_exit_2(cli_here(home, "champion", "--month", "2024-09"), "model 'churn' has no champion for 2024-09-01")


def test_export_into_a_folder_that_cannot_be_created(home, tmp_path, cli_here):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder is wanted")
    result = cli_here(home, "export-predictions", "--month", f"{END_MONTH:%Y-%m}", "--out", str(blocker / "x.parquet"))
    one_line_exit_2(result, f"--out: cannot create the folder {blocker}")


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda d: d["models"]["churn"]["params"].update(n_estimators="many"),
            "key 'params.n_estimators': must be a whole number, got text 'many'",
        ),
        (lambda d: d["models"].update(Churn=d["models"]["churn"]), "differ only in case"),
        (lambda d: d.update(partitions_start="2024-01-01T00:00:00"), "not a date (YYYY-MM-01)"),
        (
            lambda d: d["sources"]["customers"].update(files="../../etc/*", relation=None),
            "leads outside the catalogue's folder",
        ),
        # A relation that does not exist is named as such, not blamed on the label.
        (
            lambda d: d["sources"]["customers"].update(relation="analytics.no_such_view"),
            "key 'relation': analytics.no_such_view does not exist in the warehouse",
        ),
        # Issue 27: another model's label as a feature or an exclusion passed `check`, and `run`
        # failed on "missing required columns" although the column is in the source.
        (
            lambda d: d["models"]["churn"]["features"].append("upgraded_next_month"),
            "model 'churn', key 'features': upgraded_next_month is the label of model 'upsell'; a label is not "
            "known when a month is scored",
        ),
        (
            lambda d: d["models"]["churn"]["exclusions"].append({"column": "churned_within_3m", "equals": 1}),
            "model 'churn', exclusion 3, key 'column': churned_within_3m is the label of model 'churn'",
        ),
        # Issue 24: the value column is named, numeric, never a label; expected_loss needs it.
        (
            lambda d: d["models"]["churn"].update(value_column="monthly_charge"),
            "model 'churn', key 'value_column': ['monthly_charge'] not in source 'customers'",
        ),
        (
            lambda d: d["models"]["churn"].update(value_column="churned_within_3m"),
            "model 'churn', key 'value_column': churned_within_3m is the label of model 'churn'",
        ),
        (
            lambda d: (d["models"]["churn"].pop("value_column"), d["models"]["churn"].update(rank_by="expected_loss")),
            "model 'churn', key 'rank_by': expected_loss needs value_column",
        ),
        (
            lambda d: d["models"]["churn"].update(rank_by="loss"),
            "model 'churn', key 'rank_by': must be one of score, expected_loss, got 'loss'",
        ),
        # Issue 27: a 300-character model published its list, then failed writing its report.
        (
            lambda d: d["models"].update({"c" * 300: d["models"].pop("churn")}),
            "key 'name': is 300 characters long; names are at most 63 characters",
        ),
    ],
)
def test_configuration_mistakes_are_caught_before_any_step_runs(home, tmp_path, cli_here, change, message):
    catalogue = shipped_catalogue_with(tmp_path, change)
    published = query(home, "SELECT count(*) AS n, count(DISTINCT model) AS models FROM churn.published_predictions")
    for command in ("check", "run"):
        one_line_exit_2(cli_here(home, command, env_extra={"CHURN_MODELS": str(catalogue)}), message)
    # Nothing was published (nor replaced) by the refused run.
    assert query(home, "SELECT count(*) AS n, count(DISTINCT model) AS models FROM churn.published_predictions").equals(
        published
    )


def test_a_text_value_column_is_refused_by_check_and_blocked_by_the_contract_at_run(home, tmp_path, cli_here):
    """Types are checked against the source by `check` (run does not sample the source at load):
    at run, the data contract refuses a customer value that is not a number, and nothing is published."""
    catalogue = shipped_catalogue_with(tmp_path, lambda d: d["models"]["churn"].update(value_column="plan"))
    one_line_exit_2(
        cli_here(home, "check", env_extra={"CHURN_MODELS": str(catalogue)}),
        "model 'churn', key 'value_column': plan holds text in the source",
    )
    published = query(home, "SELECT count(*) AS n FROM churn.published_predictions")
    result = cli(home, "run", "--from", "2025-06", "--to", "2025-06", env_extra={"CHURN_MODELS": str(catalogue)})
    assert result.returncode == 1 and "plan must hold numbers" in result.stdout, result.stdout + result.stderr
    assert query(home, "SELECT count(*) AS n FROM churn.published_predictions").equals(published)


def test_a_list_capacity_written_as_a_whole_float_is_accepted(home, tmp_path, cli_here):
    catalogue = shipped_catalogue_with(tmp_path, lambda d: d["models"]["churn"]["gates"].update(list_capacity=8000.0))
    result = cli_here(home, "check", env_extra={"CHURN_MODELS": str(catalogue)})
    assert result.returncode == 0, result.stderr


def hold_write_lock(database: Path, seconds: float) -> subprocess.Popen:
    """Another process holding DuckDB's write lock on the warehouse, as a running step does."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(database)!r}); print('held', flush=True); "
            f"time.sleep({seconds})",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_locked_warehouse_is_one_line_for_run_and_sql_waits_then_says_a_run_is_writing(home):
    holder = hold_write_lock(home / "warehouse.duckdb", 60)
    try:
        one_line_exit_2(cli(home, "sql", "SELECT 1 AS x"), "a run is writing the warehouse (waited 5 s for its lock)")
        one_line_exit_2(cli(home, "run", "--models", "churn"), "the local warehouse is locked by another process")
    finally:
        holder.kill()
        holder.wait()
    # A writer that finishes within the wait: the reader waits for it and then answers.
    holder = hold_write_lock(home / "warehouse.duckdb", 1.5)
    started = time.monotonic()
    result = cli(home, "sql", "SELECT 1 AS x")
    holder.wait()
    assert result.returncode == 0 and result.stdout.split() == ["x", "1"], result.stderr
    assert time.monotonic() - started > 1.0 or holder.returncode == 0


@pytest.mark.parametrize(
    "statement",
    [
        "COPY (SELECT 1 AS x) TO '{out}'",
        "SELECT * FROM read_text('/etc/hostname')",
        "SELECT * FROM read_csv('/etc/passwd')",
        "ATTACH '{other}' AS other",
        "SET enable_external_access = true",
        "INSTALL httpfs",
    ],
)
def test_sql_cannot_touch_a_file_outside_the_warehouse(home, tmp_path, statement):
    out, other = tmp_path / "leak.csv", tmp_path / "other.duckdb"
    result = cli(home, "sql", statement.format(out=out, other=other))
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert not out.exists() and not other.exists()
    assert query(home, "SELECT count(*) AS n FROM churn.published_predictions")["n"].iloc[0] > 0


def test_a_semicolon_separated_file_source_says_which_separator_to_set(tmp_path, cli_here):
    import pandas as pd

    data = yaml.safe_load(DEFAULT_CATALOG.read_text())
    data["sources"]["customers"] = {
        "files": "data/customers.csv",
        "label_columns": ["churned_within_3m", "downgraded_next_month", "upgraded_next_month"],
    }
    (tmp_path / "data").mkdir()
    pd.DataFrame({"customer_id": [1, 2], "snapshot_month": ["2025-01-01"] * 2}).to_csv(
        tmp_path / "data" / "customers.csv", sep=";", index=False
    )
    catalogue = tmp_path / "models.yaml"
    catalogue.write_text(yaml.safe_dump(data, sort_keys=False))
    for command in ("check", "run"):
        result = cli_here(tmp_path / "home", command, env_extra={"CHURN_MODELS": str(catalogue)})
        one_line_exit_2(result, "the fields look separated by ';'; set `separator: ';'` on the source")
        assert "seed" not in result.stderr

"""`churn-assets` as a user runs it: clear one-line errors, exit code 2, never a traceback."""

import subprocess
import sys
from pathlib import Path

import pytest

from churn_assets.rules.months import last_completed_month

CLI = str(Path(sys.executable).parent / "churn-assets")


def cli(*args, env_extra=None, tmp_path=None):
    import os

    env = {**os.environ, "CHURN_HOME": str(tmp_path), **(env_extra or {})}
    return subprocess.run([CLI, *args], capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize(
    "args, env_extra, message",
    [
        (["run", "--from", "2025-13"], {}, "--from"),
        (["run", "--from", "2025-06", "--to", "2025-01"], {}, "is after"),
        (["run", "--models", "nope"], {}, "unknown model"),
        (["run"], {"CHURN_ENV": "staging"}, "CHURN_ENV='staging'"),
        (["run"], {"CHURN_MODELS": "/nonexistent/models.yaml"}, "catalogue file not found"),
        (["seed", "--end-month", "June"], {}, "--end-month"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, cli_here, args, env_extra, message):
    # In this process (argument errors, nothing runs); the installed command's own exit codes are
    # shown by the tests below, which run it as a user does.
    result = cli_here(tmp_path, *args, env_extra=env_extra)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_run_on_an_empty_warehouse_says_to_seed(tmp_path):
    result = cli("run", tmp_path=tmp_path)
    assert result.returncode == 2
    assert "seed" in result.stderr and "Traceback" not in result.stderr


def test_seed_run_and_query_from_the_command_line(tmp_path):
    seeded = cli("seed", "--customers", "3000", "--months", "5", "--end-month", "2025-06", tmp_path=tmp_path)
    assert seeded.returncode == 0, seeded.stderr
    again = cli("seed", "--if-missing", tmp_path=tmp_path)
    assert "already seeded" in again.stdout
    run = cli("run", "--models", "churn", tmp_path=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    # One summary line per month, with progress, and where to look next.
    assert "5/5" in run.stdout and "published" in run.stdout and "make ui" in run.stdout
    listed = cli("sql", "SELECT count(*) AS n FROM churn.published_predictions", tmp_path=tmp_path)
    assert listed.returncode == 0 and int(listed.stdout.split()[-1]) > 0
    refused = cli("sql", "DROP TABLE churn.published_predictions", tmp_path=tmp_path)
    assert refused.returncode == 2
    still = cli("sql", "SELECT count(*) AS n FROM churn.published_predictions", tmp_path=tmp_path)
    assert still.stdout == listed.stdout


def test_a_malformed_catalogue_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "models.yaml"
    bad.write_text("models: [unclosed\n  churn: {")
    result = cli("run", env_extra={"CHURN_MODELS": str(bad)}, tmp_path=tmp_path)
    assert result.returncode == 2 and "not valid YAML" in result.stderr
    assert str(bad) in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_the_sample_business_begins_where_the_partitions_do(tmp_path):
    """`make run` seeds without --months: from the catalogue's partitions_start to the end month, so
    the UI does not count months before the data as missing."""
    from churn_assets.catalog import load_catalog

    seeded = cli("seed", "--customers", "200", "--end-month", "2025-06", tmp_path=tmp_path)
    assert seeded.returncode == 0, seeded.stderr
    start = load_catalog().partitions_start
    assert f"{start:%Y-%m} .. 2025-06" in seeded.stdout, seeded.stdout
    early = cli("seed", "--customers", "200", "--end-month", f"{start.year - 1}-01", tmp_path=tmp_path / "early")
    assert early.returncode == 2 and "is after the end month" in early.stderr


# -- Held-out inputs (issue 27): argument errors, checked in-process (nothing runs before them) ----


def main_in_process(monkeypatch, capsys, home, *args, catalogue=None):
    """`churn_assets.cli.main(args)` with CHURN_HOME=home (local); returns (exit code, stdout, stderr)."""
    from churn_assets.cli import main

    monkeypatch.setenv("CHURN_HOME", str(home))
    monkeypatch.delenv("CHURN_ENV", raising=False)
    if catalogue is None:
        monkeypatch.delenv("CHURN_MODELS", raising=False)
    else:
        monkeypatch.setenv("CHURN_MODELS", str(catalogue))
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_exit_2(result, message):
    code, _, err = result
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and message in err, err


@pytest.mark.parametrize("selection", ["", " ", " , ", "churn,", ",churn"])
def test_an_empty_model_selection_is_refused_not_taken_as_every_model(monkeypatch, capsys, tmp_path, selection):
    """`--models ''` ran every model; an empty name anywhere in the selection is refused."""
    result = main_in_process(monkeypatch, capsys, tmp_path, "run", "--models", selection)
    assert_one_line_exit_2(result, f"--models {selection!r}: an empty model name")
    assert not (tmp_path / "warehouse.duckdb").exists()


def test_an_empty_previous_month_for_validate_is_refused_not_taken_as_none(monkeypatch, capsys, tmp_path):
    """`--prev-month-preds ''` validated the current month alone (no overlap or PSI judged)."""
    import pandas as pd

    current = tmp_path / "curr.parquet"
    pd.DataFrame({"customer_id": range(200), "score": [i / 200 for i in range(200)]}).to_parquet(current)
    args = ("validate", "--prev-month-preds", "", "--curr-month-preds", str(current))
    assert_one_line_exit_2(main_in_process(monkeypatch, capsys, tmp_path, *args), "--prev-month-preds is empty")


def test_seeding_before_the_partitions_start_is_refused_saying_how_many_months_fit(monkeypatch, capsys, tmp_path):
    """`seed --months 600` simulated a business from 1976, months that are no partition."""
    from churn_assets.catalog import load_catalog
    from churn_assets.rules.months import month_range

    start = load_catalog().partitions_start
    result = main_in_process(monkeypatch, capsys, tmp_path, "seed", "--customers", "10", "--months", "600")
    assert_one_line_exit_2(result, "--months 600 would begin in 1976-")
    assert f"before the catalogue's partitions_start {start}" in result[2]
    at_most = len(month_range(start, last_completed_month()))
    assert f"at most {at_most} months end in {last_completed_month():%Y-%m}" in result[2]
    # With an end month: counted up to it; the largest count that fits is accepted.
    result = main_in_process(monkeypatch, capsys, tmp_path, "seed", "--months", "11", "--end-month", "2025-06")
    assert_one_line_exit_2(result, "at most 10 months end in 2025-06")
    assert not (tmp_path / "warehouse.duckdb").exists()
    code, out, err = main_in_process(
        monkeypatch, capsys, tmp_path, "seed", "--customers", "20", "--months", "10", "--end-month", "2025-06"
    )
    assert code == 0, err
    assert f"{start:%Y-%m} .. 2025-06" in out


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda d: d["models"]["churn"]["features"].append("upgraded_next_month"),
            "model 'churn', key 'features': upgraded_next_month is the label of model 'upsell'",
        ),
        (
            lambda d: d["models"]["upsell"]["exclusions"].append({"column": "churned_within_3m", "equals": 1}),
            "model 'upsell', exclusion 3, key 'column': churned_within_3m is the label of model 'churn'",
        ),
        (
            lambda d: d["models"].update({"m" * 300: d["models"].pop("downgrade")}),
            "key 'name': is 300 characters long; names are at most 63 characters",
        ),
    ],
)
def test_check_and_run_refuse_a_held_out_catalogue(monkeypatch, capsys, tmp_path, change, message):
    from churn_assets_tests.support.pipeline import shipped_catalogue_with

    catalogue = shipped_catalogue_with(tmp_path, change)
    for command in ("check", "run"):
        result = main_in_process(monkeypatch, capsys, tmp_path, command, catalogue=catalogue)
        assert_one_line_exit_2(result, message)
        assert result[2].startswith(f"churn-assets: error: {catalogue}: ")

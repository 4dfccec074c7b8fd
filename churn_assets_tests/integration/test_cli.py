"""`churn-assets` as a user runs it: clear one-line errors, exit code 2, never a traceback."""

import subprocess
import sys
from pathlib import Path

import pytest

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
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, env_extra, message):
    result = cli(*args, env_extra=env_extra, tmp_path=tmp_path)
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

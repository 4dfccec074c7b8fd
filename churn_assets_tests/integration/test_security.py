"""Injection attempts through the CLI, file paths and references: refused before any SQL runs,
or handled as data, never as SQL. The warehouse is intact afterwards."""

import shutil
from pathlib import Path

import pytest
import yaml

from churn_assets_tests.support.pipeline import cli, query

DROP = "'; DROP TABLE raw.customers; --"


@pytest.fixture(scope="module")
def home(seeded_home, tmp_path_factory):
    folder = tmp_path_factory.mktemp("security")
    shutil.copy(seeded_home / "warehouse.duckdb", folder / "warehouse.duckdb")
    return folder


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--models", f"churn{DROP}"],
        ["run", "--from", f"2025-01{DROP}"],
        ["incident", "missing-column", "--column", f"tenure_months){DROP}"],
        ["incident", "scrambled-ids", "--month", f"2025-01{DROP}"],
        ["validate", "--curr-month-preds", f"/tmp/preds{DROP}.parquet"],
        ["validate", "--curr-month-preds", f"warehouse:churn{DROP}/2025-01"],
        ["validate", "--curr-month-preds", f"warehouse:churn/2025-01{DROP}"],
        ["export-predictions", "--model", f"churn{DROP}", "--month", "2025-01", "--out", "/tmp/x.parquet"],
        ["sql", "SELECT 1; DROP TABLE raw.customers"],
        ["sql", "DROP TABLE raw.customers"],
    ],
)
def test_injection_through_the_command_line_is_refused(home, args):
    result = cli(home, *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert query(home, "SELECT count(*) AS n FROM raw.customers")["n"].iloc[0] > 0


def test_a_file_source_path_is_a_path_not_sql(home, tmp_path):
    catalogue = yaml.safe_load((Path(__file__).parents[2] / "churn_assets" / "models.yaml").read_text())
    catalogue["sources"] = {
        "files": {
            "files": f"data/x{DROP}*.csv",
            "label_columns": ["churned_within_3m", "downgraded_next_month", "upgraded_next_month"],
        }
    }
    for model in catalogue["models"].values():
        model["source"] = "files"
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(catalogue))
    result = cli(home, "run", env_extra={"CHURN_MODELS": str(path)})
    assert result.returncode == 2 and "no file matches" in result.stderr, result.stderr
    assert query(home, "SELECT count(*) AS n FROM raw.customers")["n"].iloc[0] > 0

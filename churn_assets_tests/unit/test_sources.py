"""File sources, the data contract and the rules that judge a source's values (no Dagster runs)."""

import datetime as dt
import gzip

import numpy as np
import pandas as pd
import pytest
import yaml

from churn_assets.catalog import Exclusion, load_catalog
from churn_assets.checks.contract import ContractSpec, validate_snapshot
from churn_assets.rules.lists import excluded_mask, exclusion_problems
from churn_assets.warehouse.files import FileSourceError, _read, read_source_files, source_files


def file_catalog(folder, files="panel.csv.gz", **source):
    body = {
        "partitions_start": "2025-01-01",
        "sources": {"panel": {"files": files, "label_columns": ["churned"], **source}},
        "models": {
            "panel_churn": {
                "source": "panel",
                "label": "churned",
                "horizon_months": 1,
                "training_window_months": 3,
                "features": ["plan", "charges"],
                "categorical_features": ["plan"],
                "list_top_fraction": 0.1,
                "gates": {"min_top_k_overlap": 0.1, "min_auc": 0.6, "predicted_rate": [0, 1], "list_capacity": 100},
            }
        },
    }
    path = folder / "models.yaml"
    path.write_text(yaml.safe_dump(body))
    return load_catalog(path)


def panel(rows=4, charges=("10.5", " ", "20", "7")):
    return pd.DataFrame(
        {
            "customer_id": range(rows),
            "snapshot_month": "2025-01-01",
            "plan": ["a", "b", "a", "b"][:rows],
            "charges": list(charges)[:rows],
            "churned": [0, 1, None, 0][:rows],
        }
    )


def test_compressed_csv_is_read_like_plain_csv(tmp_path):
    frame = panel()
    with gzip.open(tmp_path / "panel.csv.gz", "wt") as handle:
        frame.to_csv(handle, index=False)
    frame.to_csv(tmp_path / "panel.csv.bz2", index=False, compression="bz2")
    assert _read(tmp_path / "panel.csv.gz").shape == (4, 5)
    assert _read(tmp_path / "panel.csv.bz2").shape == (4, 5)
    (tmp_path / "panel.txt").write_text("a,b\n1,2\n")
    with pytest.raises(FileSourceError, match=r"expected a \.csv file \(optionally compressed: .*\.csv\.gz"):
        _read(tmp_path / "panel.txt")


def test_a_semicolon_file_read_with_commas_says_which_separator_to_set(tmp_path):
    panel().to_csv(tmp_path / "panel.csv", index=False, sep=";")
    with pytest.raises(FileSourceError, match="look separated by ';'; set `separator: ';'`"):
        _read(tmp_path / "panel.csv")
    assert _read(tmp_path / "panel.csv", separator=";").shape == (4, 5)


def test_only_blank_cells_become_null_and_junk_text_stays_text(tmp_path):
    catalog = file_catalog(tmp_path, files="panel.csv")
    panel().to_csv(tmp_path / "panel.csv", index=False)
    frame, count = read_source_files(catalog, catalog.sources["panel"]), len(source_files(catalog.sources["panel"]))
    assert count == 1 and frame["charges"].dtype == "float64" and frame["charges"].isna().sum() == 1

    panel(charges=("10.5", " ", "29.85 EUR", "7")).to_csv(tmp_path / "panel.csv", index=False)
    frame = read_source_files(catalog, catalog.sources["panel"])
    # Not coerced to NULL: the contract sees text and fails naming the column and the values.
    assert frame["charges"].tolist()[2] == "29.85 EUR" and frame["charges"].isna().sum() == 1


def contract(**extra):
    return ContractSpec(
        required_columns=["customer_id", "charges", "tenure"],
        numeric_columns=["charges", "tenure"],
        **extra,
    )


def test_text_in_a_numeric_column_fails_the_contract_naming_the_values():
    rows = 200
    frame = pd.DataFrame(
        {
            "customer_id": range(rows),
            "charges": ["29.85 EUR" if i % 3 == 0 else str(i) for i in range(rows)],
            "tenure": np.arange(rows) % 7,
        }
    )
    result = validate_snapshot(frame, contract())
    assert not result.passed
    assert "charges must hold numbers but arrives as text: 67 values are not numbers, e.g. ['29.85 EUR']" in (
        result.summary()
    )


def test_a_constant_feature_fails_unless_the_source_allows_it():
    frame = pd.DataFrame({"customer_id": range(150), "charges": np.arange(150) * 1.0, "tenure": 5})
    failed = validate_snapshot(frame, contract())
    assert not failed.passed and "tenure holds 1 distinct value(s) for all 150 rows" in failed.summary()
    assert "may_be_constant" in failed.summary()
    assert validate_snapshot(frame, contract(may_be_constant=["tenure"])).passed


def test_an_exclusion_whose_value_cannot_match_its_column_is_an_error_not_an_empty_rule():
    frame = pd.DataFrame({"do_not_contact": [True, False, True], "status": ["active", "cancelled", "active"]})
    quoted = Exclusion("do_not_contact", "true", "do not contact")
    with pytest.raises(ValueError, match="= 'true': 'true' is text but the column holds boolean values"):
        excluded_mask(frame, [quoted])
    assert exclusion_problems(frame, [quoted, Exclusion("status", "cancelled", "")]) == [
        (
            "do_not_contact",
            "exclusion do_not_contact = 'true': 'true' is text but the column holds boolean values; "
            "write true or false without quotes",
        )
    ]
    assert excluded_mask(frame, [Exclusion("do_not_contact", True, "")]).tolist() == [True, False, True]
    numbers = pd.DataFrame({"plan_id": [1.0, 8.0, 8.0]})
    assert excluded_mask(numbers, [Exclusion("plan_id", 8, "")]).tolist() == [False, True, True]


def test_validate_refuses_one_month_twice_and_warns_on_months_apart(tmp_path):
    from churn_assets.rules.gates import MonthPredictions
    from churn_assets.validation import PredictionInputError, check_month_pair

    def month(value, shift=0.0):
        return MonthPredictions(
            ids=np.arange(5), scores=np.linspace(0, 1, 5) + shift, ranks=np.arange(1, 6), month=value
        )

    oct_, sep_, jul_ = dt.date(2026, 10, 1), dt.date(2026, 9, 1), dt.date(2026, 7, 1)
    with pytest.raises(PredictionInputError, match="are the same input"):
        check_month_pair("a.parquet", "./a.parquet", month(sep_), month(oct_))
    with pytest.raises(PredictionInputError, match="both hold month 2026-10-01"):
        check_month_pair("warehouse:churn/2026-10", "b.parquet", month(oct_, 0.1), month(oct_))
    with pytest.raises(PredictionInputError, match="identical predictions"):
        check_month_pair("a.parquet", "b.parquet", month(None), month(None))
    assert check_month_pair("a.parquet", "b.parquet", month(sep_, 0.1), month(oct_)) == []
    (warning,) = check_month_pair("a.parquet", "b.parquet", month(jul_, 0.1), month(oct_))
    assert warning.startswith("warning: --prev-month-preds is 2026-07-01, not the month before 2026-10-01")
    (warning,) = check_month_pair("a.parquet", "b.parquet", month(None, 0.1), month(oct_))
    assert "month of an input is unknown" in warning


def test_a_step_error_is_shown_without_its_python_class_path():
    """Errors as Dagster records them, from real failed runs: a Failure as it is, any other
    exception wrapped in Dagster's step error with the exception as its cause."""
    from dagster import Failure, job, op

    from churn_assets.errors import error_line

    @op
    def train():
        raise Failure("No labelled month to train 'x'")

    @op
    def score():
        raise ValueError("the holdout holds a single class")

    @job
    def training():
        train()

    @job
    def scoring():
        score()

    def step_error(failing_job):
        (failure,) = failing_job.execute_in_process(raise_on_error=False).get_step_failure_events()
        return failure.step_failure_data.error

    assert error_line(step_error(training)) == "No labelled month to train 'x'"
    wrapped = step_error(scoring)
    assert wrapped.cause is not None and error_line(wrapped) == "the holdout holds a single class"


def test_the_local_instance_never_rewrites_a_dagster_yaml_it_did_not_write(tmp_path):
    import yaml

    from churn_assets.local_instance import MARKER, prepare_local_instance

    deployed = tmp_path / "deployed"
    deployed.mkdir()
    theirs = "run_storage:\n  module: dagster_postgres.run_storage\n  class: PostgresRunStorage\n"
    (deployed / "dagster.yaml").write_text(theirs)
    prepare_local_instance(deployed)
    assert (deployed / "dagster.yaml").read_text() == theirs

    local = prepare_local_instance(tmp_path / "local")
    written = (local / "dagster.yaml").read_text()
    assert written.startswith(MARKER)
    config = yaml.safe_load(written)
    assert config["event_log_storage"]["config"]["base_dir"] == str(local / "history")
    (local / "dagster.yaml").write_text(written.replace("max_concurrent_runs: 2", "max_concurrent_runs: 9"))
    prepare_local_instance(local)  # its own file is brought back to the repo's settings
    assert (local / "dagster.yaml").read_text() == written

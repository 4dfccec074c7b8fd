"""Held-out inputs (issue 27): ids are published exactly as the source types them, and a CSV whose
header names a column twice is refused, naming the column and the file."""

import gzip
from pathlib import Path

import pandas as pd
import pytest

from churn_assets_tests.support.panels import MONTHS, growth_panel, panel_catalogue
from churn_assets_tests.support.pipeline import cli, query

PANEL = Path("data") / "panel.csv.gz"


def rewrite_panel(folder: Path, change) -> None:
    """Apply `change` to the panel's rows, every cell read and written as the text it is."""
    with gzip.open(folder / PANEL, "rt") as handle:
        frame = pd.read_csv(handle, dtype=str, keep_default_na=False)
    frame = change(frame)
    with gzip.open(folder / PANEL, "wt") as handle:
        frame.to_csv(handle, index=False)


def zero_padded(frame: pd.DataFrame) -> pd.DataFrame:
    # ACC-00017 -> 0001000017: a CRM's fixed-width numeric text id.
    frame["account"] = [f"{1_000_000 + int(a.removeprefix('ACC-')):010d}" for a in frame["account"]]
    return frame


def run(folder: Path, *args):
    env = {"CHURN_MODELS": str(folder / "models.yaml"), "CHURN_TRAIN_THREADS": "1"}
    return cli(folder / "home", *args, env_extra=env, timeout=900)


def test_zero_padded_ids_are_published_verbatim_and_join_back_to_the_source(tmp_path):
    growth_panel(tmp_path)
    rewrite_panel(tmp_path, zero_padded)
    panel_catalogue(tmp_path)
    with gzip.open(tmp_path / PANEL, "rt") as handle:
        source_ids = set(pd.read_csv(handle, dtype=str)["account"])

    result = run(tmp_path, "run", "--from", MONTHS[0][:7], "--to", MONTHS[-1][:7])
    assert result.returncode == 0, result.stdout + result.stderr
    home = tmp_path / "home"

    # Text stays text in every table that holds an id.
    types = query(
        home,
        "SELECT table_name, data_type FROM information_schema.columns WHERE table_schema = 'churn' "
        "AND column_name = 'customer_id' ORDER BY table_name",
    )
    assert {"source_panel", "snapshot_panel", "predictions", "published_predictions"} <= set(types["table_name"])
    assert set(types["data_type"]) == {"VARCHAR"}, types

    published = query(home, "SELECT month, customer_id, rank FROM churn.published_predictions ORDER BY month, rank")
    assert len(published) and published["customer_id"].str.fullmatch(r"000\d{7}").all(), published.head()
    assert set(published["customer_id"]) <= source_ids
    # The retention team's join: every published row finds its customer in the source's month.
    joined = query(
        home,
        "SELECT count(*) AS n FROM churn.published_predictions p JOIN churn.source_panel s "
        "ON s.customer_id = p.customer_id AND s.snapshot_month = p.month",
    )["n"].iloc[0]
    assert joined == len(published)

    # The list CSVs and the report carry the same ids, zeros included.
    may = published[published["month"].astype(str).str[:10] == MONTHS[-1]]
    folder = home / "reports" / "panel_churn"
    whole = pd.read_csv(folder / f"{MONTHS[-1]}.csv", dtype=str)
    assert whole["customer_id"].tolist() == may["customer_id"].tolist()
    leaving = pd.read_csv(folder / f"{MONTHS[-1]}-leaving.csv", dtype=str)
    april = set(published.loc[published["month"].astype(str).str[:10] == MONTHS[-2], "customer_id"])
    assert len(leaving) and set(leaving["customer_id"]) == april - set(may["customer_id"])
    page = (folder / f"{MONTHS[-1]}.html").read_text()
    assert f"<td>{may['customer_id'].iloc[0]}</td>" in page


def test_a_csv_id_column_is_numeric_only_when_every_id_is_a_canonical_integer(tmp_path):
    from churn_assets.catalog import load_catalog
    from churn_assets.warehouse.files import read_source_files

    growth_panel(tmp_path)
    catalog = load_catalog(panel_catalogue(tmp_path))
    source = catalog.sources["panel"]

    def ids_after(change):
        rewrite_panel(tmp_path, change)
        return read_source_files(catalog, source)["customer_id"]

    numbered = ids_after(lambda f: f.assign(account=[a.removeprefix("ACC-").lstrip("0") or "0" for a in f["account"]]))
    assert numbered.dtype == "int64" and numbered.min() == 0

    def one_blank(frame):
        frame.loc[frame.index[-1], "account"] = ""
        return frame

    # A blank id is missing (the contract refuses it); it does not make the column text.
    blank = ids_after(one_blank)
    assert blank.dtype == "Int64" and blank.isna().tolist() == [False] * (len(blank) - 1) + [True]

    for odd in ("007", "+7", "-7", "7 ", "7.0", "99999999999999999999"):

        def one_odd(frame, odd=odd):
            frame.loc[frame.index[-1], "account"] = odd
            return frame

        ids = ids_after(one_odd)
        # One id that is not a canonical integer keeps the whole column text, as written.
        assert ids.map(type).eq(str).all() and ids.iloc[-1] == odd and ids.iloc[0] == str(numbered.iloc[0]), odd


@pytest.fixture(params=["duckdb", "snowflake"])
def warehouse(request, tmp_path):
    """A real DuckDB file, or the dev warehouse on fakesnow's in-process Snowflake."""
    if request.param == "duckdb":
        from churn_assets.warehouse import DuckDBWarehouse

        yield DuckDBWarehouse(database=str(tmp_path / "warehouse.duckdb"))
        return
    from churn_assets.environment import load_environment
    from churn_assets_tests.support.fake_snowflake import (
        environment_variables,
        fake_snowflake,
        snowflake_variables,
    )

    with fake_snowflake(), environment_variables(snowflake_variables("dev")):
        yield load_environment("dev").warehouse


@pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result")
def test_an_id_type_change_is_refused_not_converted(warehouse):
    from churn_assets.warehouse.base import WarehouseError

    warehouse.append_rows("listed", pd.DataFrame({"customer_id": [1000001, 1000002], "score": [0.9, 0.8]}))
    padded = pd.DataFrame({"customer_id": ["0001000003", "CUST-4"], "score": [0.7, 0.6]})
    # Both engines would store '0001000003' as 1000003: the id would no longer match its source.
    with pytest.raises(
        WarehouseError, match=r"\.listed holds customer_id as (BIGINT|NUMBER) .* \['0001000003', 'CUST-4'\]"
    ):
        warehouse.append_rows("listed", padded)
    with pytest.raises(WarehouseError, match="listed holds customer_id as (BIGINT|NUMBER)"):
        warehouse.replace_rows("listed", {"score": 0.7}, pd.concat([padded] * 80))  # Snowflake: a staged upload
    warehouse.append_rows("named", padded)
    with pytest.raises(
        WarehouseError, match=r"\.named holds customer_id as (VARCHAR|TEXT) but these ids arrive as numbers"
    ):
        warehouse.append_rows("named", pd.DataFrame({"customer_id": [5], "score": [0.5]}))
    stored = warehouse.query(f"SELECT customer_id FROM {warehouse.table('listed')} ORDER BY 1")
    assert stored["customer_id"].tolist() == [1000001, 1000002]
    assert warehouse.query(f"SELECT count(*) AS n FROM {warehouse.table('named')}")["n"].iloc[0] == 2


def duplicated_tenure(frame: pd.DataFrame) -> pd.DataFrame:
    frame.insert(len(frame.columns), "tenure", "0", allow_duplicates=True)
    return frame


@pytest.mark.parametrize("command", [["check"], ["run", "--from", MONTHS[0][:7], "--to", MONTHS[0][:7]]])
def test_a_duplicated_header_is_one_line_and_exit_2(tmp_path, command):
    growth_panel(tmp_path)
    rewrite_panel(tmp_path, duplicated_tenure)
    panel_catalogue(tmp_path)
    result = run(tmp_path, *command)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert str(tmp_path / PANEL) in result.stderr and "'tenure' (columns 6 and 10)" in result.stderr, result.stderr
    # Nothing was loaded, so nothing can have been published.
    home = tmp_path / "home"
    if (home / "warehouse.duckdb").exists():
        tables = query(home, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'churn'")
        assert tables.empty, tables


def test_a_rename_onto_an_existing_column_is_refused(tmp_path):
    from churn_assets.catalog import load_catalog
    from churn_assets.warehouse.files import FileSourceError, read_source_files

    growth_panel(tmp_path)
    rewrite_panel(tmp_path, lambda f: f.assign(customer_id=f["account"]))
    catalog = load_catalog(panel_catalogue(tmp_path))
    with pytest.raises(FileSourceError, match=r"'customer_id' twice after `rename` \(account, customer_id\)"):
        read_source_files(catalog, catalog.sources["panel"])

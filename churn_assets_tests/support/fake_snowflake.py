"""A fake Snowflake (fakesnow's in-process patch) holding the simulated source, and environments
built from known fake credentials."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

# Known fake credentials: the secrets test asserts none of these values is ever shown.
FAKE_CREDENTIALS = {
    "CHURN_SNOWFLAKE_ACCOUNT": "fakeacct-q7w3e9",
    "CHURN_SNOWFLAKE_USER": "fake_user_k2m8p4",
    "CHURN_SNOWFLAKE_PASSWORD": "Pw-3xq9-z7LmN2-never-shown",
}
FAKE_SETTINGS = {
    "CHURN_SNOWFLAKE_DATABASE": "CHURN_TEST",
    "CHURN_SNOWFLAKE_ROLE": "CHURN_DEV_RW",
    "CHURN_SNOWFLAKE_WAREHOUSE": "CHURN_XS",
}
SOURCE_SCHEMA = "ANALYTICS"
SOURCE_TABLE = "customer_features_monthly"


@contextmanager
def environment_variables(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set (or, for None, unset) environment variables for the block, then restore them."""
    previous = {key: os.environ.get(key) for key in values}
    try:
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def snowflake_variables(env: str = "dev", **overrides: str | None) -> dict[str, str | None]:
    """Every CHURN_SNOWFLAKE_* variable a deployment sets (fake values), plus CHURN_ENV."""
    cleared = {key: None for key in os.environ if key.startswith("CHURN_SNOWFLAKE_")}
    return {**cleared, "CHURN_ENV": env, **FAKE_CREDENTIALS, **FAKE_SETTINGS, **overrides}


@contextmanager
def fake_snowflake() -> Iterator[None]:
    """fakesnow's in-process patch of the connector (connect and write_pandas), one in-memory
    Snowflake for the block. Databases and schemas named at connection are created on connect."""
    import fakesnow

    with fakesnow.patch():
        yield


def admin_connection(schema: str | None = None):
    """A plain connector connection to the fake Snowflake (what an administrator would use)."""
    import snowflake.connector

    return snowflake.connector.connect(
        account="admin",
        user="admin",
        password="admin",
        database=FAKE_SETTINGS["CHURN_SNOWFLAKE_DATABASE"],
        schema=schema,
        paramstyle="qmark",
    )


def load_source_from_duckdb(duckdb_path: Path) -> int:
    """Copy the simulated source view's rows from a seeded DuckDB file into the fake Snowflake as
    table ANALYTICS.CUSTOMER_FEATURES_MONTHLY (what the data engineering team provides there).

    Column types follow the view: DATE stays DATE, nullable label columns stay numeric.
    """
    import duckdb
    import pyarrow as pa

    from churn_assets.warehouse.snowflake import SnowflakeWarehouse

    with duckdb.connect(str(duckdb_path), read_only=True) as conn:
        table = conn.sql(
            f"SELECT * FROM analytics.{SOURCE_TABLE} ORDER BY snapshot_month, customer_id"
        ).to_arrow_table()
    nullable_ints = {t: pd.Int64Dtype() for t in (pa.int8(), pa.int16(), pa.int32(), pa.int64())}
    frame = table.to_pandas(types_mapper=nullable_ints.get)  # dates arrive as datetime.date
    loader = SnowflakeWarehouse(
        account="admin",
        user="admin",
        password="admin",
        database=FAKE_SETTINGS["CHURN_SNOWFLAKE_DATABASE"],
        schema_name=SOURCE_SCHEMA,
    )
    loader.append_rows(SOURCE_TABLE, frame)
    return len(frame)


def schema_contents(schema: str) -> dict[str, pd.DataFrame]:
    """Every table of a schema of the fake Snowflake, sorted, for before/after comparisons."""
    with admin_connection() as conn:
        cursor = conn.cursor()
        tables = [
            row[0]
            for row in cursor.execute(
                f"SELECT table_name FROM {FAKE_SETTINGS['CHURN_SNOWFLAKE_DATABASE']}.information_schema.tables "
                "WHERE table_schema = ? ORDER BY table_name",
                [schema],
            ).fetchall()
        ]
        contents = {}
        for table in tables:
            frame = cursor.execute(f"SELECT * FROM {schema}.{table}").fetch_pandas_all()
            contents[table] = frame.sort_values(list(frame.columns[:3])).reset_index(drop=True) if len(frame) else frame
        return contents

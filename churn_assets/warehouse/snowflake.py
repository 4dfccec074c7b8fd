"""The dev and prod warehouse: one schema of a Snowflake database, through dagster-snowflake.

The assets' SQL is shared with DuckDB (``?`` placeholders, schema-qualified names); what
differs lives here:

- Connections come from ``dagster_snowflake.SnowflakeResource`` (password or key pair, role,
  warehouse), built when a step first connects. Nothing Snowflake is imported when this module
  is: ``dagster_snowflake`` costs seconds at import, which would otherwise land on every load
  of the code location.
- Unquoted identifiers are upper case in Snowflake; result columns are returned lower case, as
  the assets (and DuckDB) name them.
- DDL commits any open transaction in Snowflake, and ``write_pandas`` creates a temporary stage
  (DDL). So ``replace_rows`` does every DDL (creating or widening the table, uploading a large
  frame into a temporary table) *before* its transaction, which then holds only DELETE and
  INSERT: a reader sees the previous rows or the new ones, never a mix.
- Session time zone is UTC, so ``published_at`` and the other timestamps read back in UTC.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
from dagster import EnvVar

from churn_assets.warehouse.base import DATE_COLUMNS, ID_COLUMN, Warehouse, WarehouseError, refuse_id_type_change

# Frames up to this many rows are written by one parameterised INSERT (no DDL, so it stays
# inside the caller's transaction); larger ones are uploaded with write_pandas (Parquet, COPY).
INSERT_VALUES_MAX_ROWS = 100
# Prefix of the session-scoped temporary tables large frames are uploaded into.
LOAD_TABLE_PREFIX = "CHURN_LOAD_"


def _resolved(value: Any) -> Any:
    """A setting's value: EnvVar fields hold the variable's name until Dagster resolves them at
    run start; used outside a run (e.g. `churn-assets run` listing source months) they are read here."""
    return value.get_value() if isinstance(value, EnvVar) else value


def quote(identifier: str) -> str:
    """A column name as Snowflake stores an unquoted identifier: upper case, quoted."""
    return '"' + identifier.upper().replace('"', '""') + '"'


def snowflake_type(values: pd.Series) -> str:
    """The Snowflake column type for a frame column (used when creating or widening a table)."""
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "BOOLEAN"
    if pd.api.types.is_integer_dtype(dtype):
        return "NUMBER(38,0)"
    if pd.api.types.is_float_dtype(dtype):
        return "FLOAT"
    if isinstance(dtype, pd.DatetimeTZDtype):
        return "TIMESTAMP_TZ"
    if pd.api.types.is_datetime64_dtype(dtype):
        return "TIMESTAMP_NTZ"
    if isinstance(dtype, (pd.CategoricalDtype, pd.StringDtype)):
        return "VARCHAR"
    present = values.dropna()
    if present.empty:
        return "VARCHAR"
    sample = present.iloc[0]
    if isinstance(sample, (bool, np.bool_)):
        return "BOOLEAN"
    if isinstance(sample, (int, np.integer)):
        return "NUMBER(38,0)"
    if isinstance(sample, (float, np.floating, decimal.Decimal)):
        return "FLOAT"
    if isinstance(sample, dt.datetime):  # before date: a datetime is a date
        return "TIMESTAMP_TZ" if sample.tzinfo is not None else "TIMESTAMP_NTZ"
    if isinstance(sample, dt.date):
        return "DATE"
    if isinstance(sample, (bytes, bytearray, memoryview)):
        return "BINARY"
    return "VARCHAR"


def months_as_dates(frame: pd.DataFrame) -> pd.DataFrame:
    """Month columns (DATE_COLUMNS) read back as datetime64 written as dates, so they stay DATE."""
    convert = [c for c in frame.columns if c in DATE_COLUMNS and pd.api.types.is_datetime64_any_dtype(frame[c])]
    if not convert:
        return frame
    return frame.assign(**{c: frame[c].dt.date for c in convert})


def bindable(value: Any) -> Any:
    """A Python value the connector binds (qmark): plain scalars, NULL for NaN/NaT, naive UTC timestamps."""
    if value is None:
        return None
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    elif isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    if value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        # The session time zone is UTC: a naive UTC value lands on the same instant.
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    return value


def _non_null_columns(frame: pd.DataFrame) -> list[str]:
    """Columns with at least one value: an all-NULL column is left out of an upload (its type
    cannot be inferred from Parquet) and stays NULL in the table."""
    return [column for column in frame.columns if frame[column].notna().any()]


def normalise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Query results as the assets expect them: lower-case column names, 64-bit integers.

    (Snowflake's Arrow results size integer columns by their values, e.g. int8 for small numbers.)
    """
    frame.columns = [str(c).lower() for c in frame.columns]
    for column, dtype in frame.dtypes.items():
        if isinstance(dtype, np.dtype) and dtype.kind in "iu" and dtype != np.int64:
            frame[column] = frame[column].astype(np.int64)
    return frame


class SnowflakeSession:
    """The DB-API surface the shared SQL uses: ``execute(sql, params)`` with ``?`` placeholders,
    returning a cursor (``fetchall``, ``fetch_pandas_all``). Tracks whether a transaction is open."""

    def __init__(self, connection: Any):
        self.connection = connection
        self.in_transaction = False

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        cursor = self.connection.cursor()
        cursor.execute(sql, [bindable(p) for p in params] or None)
        statement = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
        if statement in ("BEGIN", "START"):
            self.in_transaction = True
        elif statement in ("COMMIT", "ROLLBACK"):
            self.in_transaction = False
        return cursor

    @contextmanager
    def outside_transaction(self) -> Iterator[None]:
        """For DDL: Snowflake commits an open transaction before any DDL statement. Inside one
        (e.g. the registry's first version creates its table), commit explicitly, run the DDL,
        and reopen the transaction so the writes that follow still commit or roll back together."""
        if not self.in_transaction:
            yield
            return
        self.execute("COMMIT")
        try:
            yield
        finally:
            self.execute("BEGIN TRANSACTION")


class SnowflakeWarehouse(Warehouse):
    """The pipeline's tables in one schema of a Snowflake database (CHURN_ENV=dev or prod).

    Account, user and credentials are ``EnvVar``s: Dagster resolves them when a run starts and
    the UI shows only the variables' names. Database, schema, role and warehouse are plain
    settings (they name things; they open nothing).
    """

    account: str
    user: str
    password: str | None = None
    private_key: str | None = None
    private_key_path: str | None = None
    private_key_password: str | None = None
    database: str
    role: str | None = None
    warehouse: str | None = None

    @property
    def kind(self) -> str:
        return "snowflake"

    def _resource(self):
        from dagster_snowflake import SnowflakeResource  # seconds at import: only when connecting

        return SnowflakeResource(
            account=_resolved(self.account),
            user=_resolved(self.user),
            password=_resolved(self.password),
            private_key=_resolved(self.private_key),
            private_key_path=_resolved(self.private_key_path),
            private_key_password=_resolved(self.private_key_password),
            database=self.database,
            schema=self.schema_name,
            role=self.role,
            warehouse=self.warehouse,
            paramstyle="qmark",
            timezone="UTC",
        )

    @contextmanager
    def connect(self) -> Iterator[SnowflakeSession]:
        try:
            opened = self._resource().get_connection()
            connection = opened.__enter__()
        except Exception as exc:  # noqa: BLE001 - the connector's own types; the message is what helps
            raise WarehouseError(
                f"cannot connect to Snowflake database {self.database}, schema {self.schema_name}"
                + (f", role {self.role}" if self.role else "")
                + (f", warehouse {self.warehouse}" if self.warehouse else "")
                + f": {self._reason(exc)}"
            ) from None
        try:
            yield SnowflakeSession(connection)
        except BaseException:
            connection.close()  # SnowflakeResource.get_connection does not close on error
            raise
        opened.__exit__(None, None, None)  # commits (unless autocommit) and closes

    def _reason(self, exc: Exception) -> str:
        """The first line of a connection error with every credential value masked: the connector
        names the account's host, and a settings validation error may quote its input."""
        reason = (getattr(exc, "msg", None) or str(exc) or type(exc).__name__).strip().splitlines()[0]
        credentials = (
            self.account,
            self.user,
            self.password,
            self.private_key,
            self.private_key_path,
            self.private_key_password,
        )
        for value in sorted(filter(None, map(_resolved, credentials)), key=len, reverse=True):
            reason = reason.replace(value, "***")
        return reason

    # -- reads -----------------------------------------------------------------------------
    def _fetch_df(self, conn: SnowflakeSession, sql: str, params: Sequence[Any]) -> pd.DataFrame:
        return normalise_frame(conn.execute(sql, list(params)).fetch_pandas_all())

    def _columns(self, conn: SnowflakeSession, table: str) -> list[str] | None:
        return self._information_schema_columns(conn, self.database, self.schema_name, table)

    def relation_columns(self, relation: str) -> list[str] | None:
        """Columns (lower case) of a table or view named as Snowflake resolves it: `table` in this
        schema, `schema.table` or `database.schema.table`; None when it does not exist."""
        *qualifiers, name = relation.split(".")
        schema = qualifiers[-1] if qualifiers else self.schema_name
        database = qualifiers[-2] if len(qualifiers) == 2 else self.database
        with self.connect() as conn:
            return self._information_schema_columns(conn, database, schema, name)

    @staticmethod
    def _information_schema_columns(conn: SnowflakeSession, database: str, schema: str, table: str) -> list[str] | None:
        rows = conn.execute(
            f"SELECT column_name FROM {database}.information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [schema.upper(), table.upper()],
        ).fetchall()
        return [str(r[0]).lower() for r in rows] or None

    # -- writes ----------------------------------------------------------------------------
    def replace_rows(self, table: str, key: Mapping[str, Any], frame: pd.DataFrame) -> None:
        """Atomically replace the rows of `table` matching `key` by `frame` (see the module
        docstring: every DDL runs before the transaction, which holds only DELETE and INSERT)."""
        with self.connect() as conn:
            staged = self._prepare(conn, table, frame)
            try:
                # After _prepare, a frame with columns always has its table.
                exists = len(frame.columns) > 0 or self._columns(conn, table) is not None
                with self._transaction(conn):
                    self._delete_matching(conn, table, key, exists=exists)
                    if len(frame):
                        self._insert(conn, table, frame, staged)
            finally:
                self._drop_staged(conn, staged)

    def _write_frame(self, conn: SnowflakeSession, table: str, frame: pd.DataFrame) -> None:
        """Append `frame` (creating the table, or adding new columns, first)."""
        frame = months_as_dates(frame)
        staged = self._prepare(conn, table, frame)
        try:
            self._insert(conn, table, frame, staged)
        finally:
            self._drop_staged(conn, staged)

    def _prepare(self, conn: SnowflakeSession, table: str, frame: pd.DataFrame) -> str | None:
        """The DDL a write needs: the table with every column of `frame`, and for a large frame
        its rows uploaded into a temporary table (returned) ready for one INSERT ... SELECT."""
        if not len(frame.columns):
            return None
        types = {column: snowflake_type(frame[column]) for column in frame.columns}
        existing = self._columns(conn, table)
        if existing is not None and ID_COLUMN in frame.columns:
            stored = conn.execute(
                f"SELECT data_type FROM {self.database}.information_schema.columns "
                "WHERE table_schema = ? AND table_name = ? AND column_name = ?",
                [self.schema_name.upper(), table.upper(), ID_COLUMN.upper()],
            ).fetchall()
            refuse_id_type_change(self.table(table), stored[0][0] if stored else None, frame)
        ddl = []
        if existing is None:
            columns = ", ".join(f"{quote(c)} {t}" for c, t in types.items())
            ddl.append(f"CREATE TABLE IF NOT EXISTS {self.table(table)} ({columns})")
        else:
            # Additive schema evolution, as on DuckDB: a new column in the frame becomes a new column.
            ddl += [
                f"ALTER TABLE {self.table(table)} ADD COLUMN IF NOT EXISTS {quote(c)} {types[c]}"
                for c in frame.columns
                if c.lower() not in existing
            ]
        staging = len(frame) > INSERT_VALUES_MAX_ROWS and bool(_non_null_columns(frame))
        if not ddl and not staging:
            return None
        with conn.outside_transaction():
            for statement in ddl:
                conn.execute(statement)
            return self._stage(conn, table, frame, types) if staging else None

    def _stage(self, conn: SnowflakeSession, table: str, frame: pd.DataFrame, types: dict[str, str]) -> str:
        """Upload a large frame into a temporary table with write_pandas (Parquet, COPY INTO)."""
        from snowflake.connector import pandas_tools  # the module attribute, so test fakes apply

        present = _non_null_columns(frame)
        staged = f"{LOAD_TABLE_PREFIX}{table.upper()}_{uuid.uuid4().hex[:12].upper()}"
        columns = ", ".join(f"{quote(c)} {types[c]}" for c in present)
        conn.execute(f"CREATE TEMPORARY TABLE {staged} ({columns})")
        upload = frame[present].reset_index(drop=True).rename(columns=str.upper)
        try:
            pandas_tools.write_pandas(
                conn.connection,
                upload,
                table_name=staged,
                quote_identifiers=True,
                # As dagster-snowflake-pandas does: Parquet logical types (dates, UTC timestamps),
                # explicit casts to the inferred types (binary stays binary).
                use_logical_type=True,
                infer_schema=True,
            )
        except BaseException:
            self._drop_staged(conn, staged)
            raise
        return staged

    def _insert(self, conn: SnowflakeSession, table: str, frame: pd.DataFrame, staged: str | None) -> None:
        if staged is not None:
            present = ", ".join(quote(c) for c in _non_null_columns(frame))
            conn.execute(f"INSERT INTO {self.table(table)} ({present}) SELECT {present} FROM {staged}")
            return
        if not len(frame):
            return
        columns = ", ".join(quote(c) for c in frame.columns)
        row = "(" + ", ".join("?" for _ in frame.columns) + ")"
        values = [value for record in frame.itertuples(index=False, name=None) for value in record]
        conn.execute(
            f"INSERT INTO {self.table(table)} ({columns}) VALUES {', '.join(row for _ in range(len(frame)))}", values
        )

    @staticmethod
    def _drop_staged(conn: SnowflakeSession, staged: str | None) -> None:
        if staged is not None:
            with conn.outside_transaction():
                conn.execute(f"DROP TABLE IF EXISTS {staged}")

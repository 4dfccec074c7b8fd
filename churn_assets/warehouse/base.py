"""The warehouse resource every asset talks to.

Assets never build SQL strings from user input: table and column names come from the
validated catalogue (plain identifiers) and values are bound parameters (``?``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import pandas as pd
from dagster import ConfigurableResource

# Columns that hold a month (its first day): DATE in every table, as the consumer contract says
# (README, "The published table"). pandas reads DATE as datetime64, which would be written back as
# TIMESTAMP, so the engines write these names as dates.
DATE_COLUMNS = frozenset(
    {"month", "snapshot_month", "training_month", "trained_for_month", "effective_month", "signup_month"}
)


# The customer id keeps the source's type in every table (README, "The published table"): text ids
# stay text (zeros kept), numbers stay numbers.
ID_COLUMN = "customer_id"
# A text id that reads back the same as a number: no sign, no leading zero, no space.
CANONICAL_INTEGER = r"0|[1-9][0-9]*"
BIGINT_MAX = str(2**63 - 1)


class WarehouseError(RuntimeError):
    """A warehouse operation failed; the message says which table and what to do."""


def refuse_id_type_change(table: str, stored_type: str | None, frame: pd.DataFrame) -> None:
    """Refuse to append ids of another kind (text vs numbers) than the table's `customer_id` column.

    Both engines would convert on INSERT without a word: '0001000001' becomes 1000001, 1000001
    becomes '1000001', and the stored ids no longer match the source's. This happens when a
    source's id type changes, or when sources of different id types share a table."""
    if stored_type is None or ID_COLUMN not in frame.columns or not len(frame):
        return
    # From the dtype for numbers; a month of text ids is scanned once (no copy of the column).
    kind = pd.api.types.infer_dtype(frame[ID_COLUMN], skipna=True)
    stored_text = stored_type.upper().startswith(("VARCHAR", "TEXT", "STRING", "CHAR"))
    arriving_text = kind == "string"
    if kind not in ("string", "integer", "floating", "decimal") or arriving_text == stored_text:
        return  # nothing to convert, or a mix the engine refuses by itself
    examples = ids = frame[ID_COLUMN].dropna()
    if ids.empty:
        return  # only NULL ids: nothing is converted
    if arriving_text:  # the ids that could not be numbers say best why the column is text
        odd = ids[~ids.str.fullmatch(CANONICAL_INTEGER)]
        examples = odd if len(odd) else ids
    shown = examples.drop_duplicates().head(3).tolist()
    raise WarehouseError(
        f"{table} holds {ID_COLUMN} as {stored_type} but these ids arrive as "
        f"{'text' if arriving_text else 'numbers'}, e.g. {shown}: not converted, an id keeps its source's type "
        "(did the source's id type change, or do sources with different id types share this table?)"
    )


class Warehouse(ConfigurableResource):
    """Tables of one environment (a DuckDB file or a Snowflake schema).

    Subclasses provide `connect`, `_write_frame` and `_columns`; everything else is shared SQL.
    """

    schema_name: str = "churn"

    # -- engine-specific ---------------------------------------------------------------
    @contextmanager
    def connect(self) -> Iterator[Any]:  # pragma: no cover - abstract
        raise NotImplementedError
        yield

    def _write_frame(self, conn: Any, table: str, frame: pd.DataFrame) -> None:  # pragma: no cover
        """Append `frame` to `table` (creating it from the frame's schema if needed)."""
        raise NotImplementedError

    def _columns(self, conn: Any, table: str) -> list[str] | None:  # pragma: no cover
        """Column names of a table in this schema, or None when it does not exist."""
        raise NotImplementedError

    @property
    def kind(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- shared ------------------------------------------------------------------------
    def table(self, name: str) -> str:
        """Schema-qualified name of one of the pipeline's own tables."""
        return f"{self.schema_name}.{name}"

    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        with self.connect() as conn:
            return self._fetch_df(conn, sql, params)

    def read_features(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        """`query` for month-sized reads of customer rows: text columns other than customer_id come
        back as pandas categoricals, read chunk by chunk.

        A text value as a Python object costs ~60 bytes a row; as a category code, 1. On a
        10M-customer month with 7 text features that is 4 GB against 70 MB.
        """
        with self.connect() as conn:
            return concat_chunks([text_as_categories(chunk) for chunk in self._fetch_chunks(conn, sql, params)])

    def _fetch_chunks(self, conn: Any, sql: str, params: Sequence[Any]) -> Iterator[pd.DataFrame]:
        """The result as consecutive frames (engines that can stream override this)."""
        yield self._fetch_df(conn, sql, params)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self.connect() as conn:
            conn.execute(sql, list(params))

    def columns(self, table: str) -> list[str] | None:
        with self.connect() as conn:
            return self._columns(conn, table)

    def relation_for(self, source) -> str:
        """Where a catalogue source is read from: its relation, or the table its files load into."""
        return self.table(f"source_{source.name}") if source.files else source.relation

    def relation_columns(self, relation: str) -> list[str] | None:
        """Columns of a table or view (schema-qualified or not), None when it does not exist."""
        schema, _, name = relation.rpartition(".")
        schema = schema.rpartition(".")[2]
        frame = self.query(
            "SELECT column_name FROM information_schema.columns WHERE lower(table_name) = lower(?) "
            "AND (? = '' OR lower(table_schema) = lower(?))",
            [name, schema, schema],
        )
        return frame["column_name"].tolist() or None

    def _fetch_df(self, conn: Any, sql: str, params: Sequence[Any]) -> pd.DataFrame:
        return conn.execute(sql, list(params)).df()

    @staticmethod
    @contextmanager
    def _transaction(conn: Any) -> Iterator[Any]:
        """One transaction on an open connection: committed when the block ends, rolled back if it raises."""
        conn.execute("BEGIN TRANSACTION")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _delete_matching(self, conn: Any, table: str, key: Mapping[str, Any], exists: bool | None = None) -> None:
        """Delete the rows of `table` matching `key` (column = value, bound); nothing if the table
        does not exist yet (`exists` None: ask the database)."""
        if exists is None:
            exists = self._columns(conn, table) is not None
        if exists:
            where = " AND ".join(f"{column} = ?" for column in key)
            conn.execute(f"DELETE FROM {self.table(table)} WHERE {where}", list(key.values()))

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """One transaction for several statements: everything written through the handle commits
        together when the block ends, or not at all if it raises (e.g. a promotion and its alias)."""
        with self.connect() as conn, self._transaction(conn):
            yield Transaction(self, conn)

    def replace_rows(self, table: str, key: Mapping[str, Any], frame: pd.DataFrame) -> None:
        """Atomically replace the rows of `table` matching `key` (e.g. one model's month) by `frame`.

        Delete and insert run in one transaction: a reader sees the old rows or the new
        rows, never a mix, and rows outside `key` are never touched.
        """
        with self.connect() as conn, self._transaction(conn):
            self._delete_matching(conn, table, key)
            if len(frame):
                self._write_frame(conn, table, frame)

    def exists(self) -> bool:
        """Whether the warehouse is there at all (a local file may not be yet)."""
        return True

    def migrate_date_columns(self) -> list[str]:
        """Migration for warehouses written before every month column was a DATE: each such
        column of this schema's tables that is a TIMESTAMP becomes a DATE (values cast, rows
        untouched otherwise). Returns a line per migrated column. Idempotent; run it while no run
        writes (`churn-assets migrate`; `make run` and `make train` run it first)."""
        if not self.exists():
            return []
        names = ", ".join("?" for _ in DATE_COLUMNS)
        found = self.query(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            f"WHERE lower(table_schema) = lower(?) AND lower(column_name) IN ({names}) "
            "AND upper(data_type) LIKE 'TIMESTAMP%'",
            [self.schema_name, *sorted(DATE_COLUMNS)],
        )
        done = []
        for table, column, data_type in found.itertuples(index=False, name=None):
            target, staging = self.table(table.lower()), f"{column.lower()}__as_date"
            with self.connect() as conn, self._transaction(conn):
                # Add, fill, drop, rename: the one sequence both DuckDB and Snowflake accept
                # (Snowflake cannot ALTER a TIMESTAMP column to DATE in place).
                conn.execute(f"ALTER TABLE {target} ADD COLUMN {staging} DATE")
                conn.execute(f"UPDATE {target} SET {staging} = CAST({column} AS DATE)")
                conn.execute(f"ALTER TABLE {target} DROP COLUMN {column}")
                conn.execute(f"ALTER TABLE {target} RENAME COLUMN {staging} TO {column.lower()}")
            done.append(f"migrated {target}.{column.lower()}: {data_type} -> DATE")
        return done

    def add_missing_columns(self, table: str, columns: Mapping[str, str]) -> list[str]:
        """Migration for tables written before a column existed (e.g. the published list's reasons):
        each of `columns` (name -> SQL type) the table lacks is added, NULL in the rows already there.
        A table that does not exist yet is left to its first write. Returns a line per column added."""
        if not self.exists():
            return []
        existing = self.columns(table)
        if existing is None:
            return []
        have = {column.lower() for column in existing}
        done = []
        with self.connect() as conn, self._transaction(conn):
            for column, sql_type in columns.items():
                if column.lower() not in have:
                    conn.execute(f"ALTER TABLE {self.table(table)} ADD COLUMN {column} {sql_type}")
                    done.append(f"added {self.table(table)}.{column} {sql_type}")
        return done

    def append_rows(self, table: str, frame: pd.DataFrame) -> None:
        with self.connect() as conn:
            self._write_frame(conn, table, frame)

    def read_source_month(self, relation: str, month: dt.date, exclude_columns: set[str]) -> pd.DataFrame:
        """Every column of a source relation for one month, minus `exclude_columns` (labels)."""
        frame = self.read_features(f"SELECT * FROM {relation} WHERE snapshot_month = ?", [month])
        return frame.drop(columns=[c for c in frame.columns if c in exclude_columns])

    def read_labels(self, relation: str, label: str, snapshot: str, months: Sequence[dt.date]) -> pd.DataFrame:
        """(customer_id, snapshot_month, label) of the customers in the stored `snapshot` table for the
        given months, with their matured labels from `relation`. Joined in the warehouse: a pandas
        merge of two 10M-row frames on two keys cost more than the rest of the step."""
        if not months:
            return pd.DataFrame(columns=["customer_id", "snapshot_month", label])
        placeholders = ", ".join("?" for _ in months)
        return self.query(
            f"SELECT s.customer_id, s.snapshot_month, l.{label} FROM {self.table(snapshot)} s "
            f"JOIN {relation} l ON l.customer_id = s.customer_id AND l.snapshot_month = s.snapshot_month "
            f"WHERE s.snapshot_month IN ({placeholders}) AND l.snapshot_month IN ({placeholders}) "
            f"AND l.{label} IS NOT NULL",
            [*months, *months],
        )


# Never made categorical: ids are (nearly) unique, so a dictionary would only add to them, and they
# are sorted and joined on by value.
ID_COLUMNS = (ID_COLUMN,)


def text_as_categories(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its text columns (except ids) as categoricals; other columns untouched."""
    for column in frame.columns:
        if column not in ID_COLUMNS and frame[column].dtype == object:
            if pd.api.types.infer_dtype(frame[column], skipna=True) == "string":
                frame[column] = frame[column].astype("category")
    return frame


def concat_chunks(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Consecutive chunks of one result as one frame; categoricals stay categoricals even when
    the chunks saw different categories (pd.concat would turn them back into objects)."""
    if len(parts) == 1:
        return parts[0]
    columns = {}
    for column in parts[0].columns:
        pieces = [part[column] for part in parts]
        if any(isinstance(piece.dtype, pd.CategoricalDtype) for piece in pieces):
            pieces = [piece.astype("category") for piece in pieces]  # a chunk of only NULLs reads as object
            columns[column] = pd.api.types.union_categoricals(pieces, sort_categories=True)
        else:
            columns[column] = pd.concat(pieces, ignore_index=True)
        for part in parts:  # free each column's chunks as soon as it is joined
            del part[column]
    # copy=False: one block per column, no consolidated second copy of the month.
    return pd.DataFrame(columns, copy=False)


def take_rows(frame: pd.DataFrame, positions) -> pd.DataFrame:
    """`frame.take(positions)` one column at a time, releasing each source column as it goes (the
    frame passed in is emptied): a reordered month costs one column more, not a second month."""
    columns = {}
    for column in list(frame.columns):
        columns[column] = frame[column].array.take(positions)
        del frame[column]
    return pd.DataFrame(columns, copy=False)


class Transaction:
    """The statements of one open warehouse transaction (`Warehouse.transaction`)."""

    def __init__(self, warehouse: Warehouse, conn: Any):
        self._warehouse, self._conn = warehouse, conn

    def columns(self, table: str) -> list[str] | None:
        """Column names of one of the pipeline's tables, or None when it does not exist."""
        return self._warehouse._columns(self._conn, table)

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first value of the first row of a query (None when there is no row)."""
        rows = self._conn.execute(sql, list(params)).fetchall()
        return rows[0][0] if rows else None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._conn.execute(sql, list(params))

    def append(self, table: str, frame: pd.DataFrame) -> None:
        """Append `frame` to `table` (created from the frame's schema if needed)."""
        self._warehouse._write_frame(self._conn, table, frame)

    def delete(self, table: str, key: Mapping[str, Any]) -> None:
        """Delete the rows matching `key` (column = value); nothing if the table does not exist."""
        self._warehouse._delete_matching(self._conn, table, key)

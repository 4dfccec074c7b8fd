"""The embedded local warehouse: one DuckDB file."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from churn_assets.errors import exception_chain
from churn_assets.warehouse.base import DATE_COLUMNS, ID_COLUMN, Warehouse, refuse_id_type_change

# DuckDB vectors are 2,048 rows: chunks of ~262k rows (their text as Python objects is the
# transient cost of a read, ~15 MB per text column).
FETCH_VECTORS_PER_CHUNK = 128


def stream_frames(conn: duckdb.DuckDBPyConnection, sql: str, params=()) -> Iterator[pd.DataFrame]:
    """A query's result as consecutive frames: only one chunk at a time is ever held as pandas objects."""
    result = conn.execute(sql, list(params))
    first = True
    while True:
        chunk = result.fetch_df_chunk(FETCH_VECTORS_PER_CHUNK)
        if len(chunk) or first:  # an empty result still yields its (empty, typed) frame
            yield chunk
        if not len(chunk):
            return
        first = False


# How long a step waits for another process to release the file before failing (its retry policy
# then decides): 12 attempts, 0.1 s doubling to 2 s.
WRITER_WAIT_SECONDS = 15.0


def is_lock_error(exc: BaseException | None) -> bool:
    """DuckDB's "Could not set lock on file" (one writer per file), however deep it was raised."""
    return any(
        type(e).__module__.startswith(("duckdb", "_duckdb")) and "lock" in str(e).lower() for e in exception_chain(exc)
    )


def connect_when_free(
    database: str, *, wait_seconds: float, max_delay: float, locks_only: bool = False, **options: Any
) -> duckdb.DuckDBPyConnection:
    """`duckdb.connect(database, **options)`, retried with backoff (0.1 s doubling up to `max_delay`)
    for `wait_seconds` while another process holds the file; then the last error is raised. With
    `locks_only`, any other IOException is raised at once."""
    deadline, delay = time.monotonic() + wait_seconds, 0.1
    while True:
        try:
            return duckdb.connect(database, **options)
        except duckdb.IOException as exc:
            if (locks_only and not is_lock_error(exc)) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, max_delay)


def plain_arrow(frame: pd.DataFrame) -> pa.Table:
    """The frame as Arrow, categoricals as plain text: a dictionary column would become a DuckDB
    ENUM, which would refuse next month's new category."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    for index, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type):
            table = table.set_column(index, field.name, pc.cast(table.column(index), field.type.value_type))
        elif pa.types.is_timestamp(field.type) and field.name in DATE_COLUMNS:
            # Months are DATE (the consumer contract), not the TIMESTAMP pandas would make of them.
            table = table.set_column(index, field.name, pc.cast(table.column(index), pa.date32()))
    return table


class DuckDBWarehouse(Warehouse):
    """The pipeline's tables in a schema of a local DuckDB file (the embedded default)."""

    database: str

    @property
    def kind(self) -> str:
        return "duckdb"

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        # DuckDB allows one writing process per file: another process (the UI, a second run)
        # may hold the lock for a moment, so retry with backoff before giving up.
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        conn = connect_when_free(self.database, wait_seconds=WRITER_WAIT_SECONDS, max_delay=2.0)
        try:
            # Creating the schema is a catalog write: only do it when it is missing, so that
            # readers never write (and never conflict with a writer's open transaction).
            exists = conn.execute(
                "SELECT count(*) FROM information_schema.schemata WHERE schema_name = ?", [self.schema_name]
            ).fetchall()[0][0]
            if not exists:
                conn.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema_name}")
            yield conn
        finally:
            conn.close()

    def exists(self) -> bool:
        return Path(self.database).exists()

    def _columns(self, conn: Any, table: str) -> list[str] | None:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [self.schema_name, table],
        ).fetchall()
        return [r[0] for r in rows] or None

    def _fetch_chunks(self, conn: Any, sql: str, params) -> Iterator[pd.DataFrame]:
        return stream_frames(conn, sql, params)

    def _write_frame(self, conn: Any, table: str, frame: pd.DataFrame) -> None:
        if ID_COLUMN in frame.columns:
            stored = conn.execute(
                "SELECT data_type FROM information_schema.columns "
                "WHERE table_schema = ? AND table_name = ? AND column_name = ?",
                [self.schema_name, table, ID_COLUMN],
            ).fetchall()
            refuse_id_type_change(self.table(table), stored[0][0] if stored else None, frame)
        # Registered as Arrow: DuckDB's pandas scan fails under concurrent connections of one process
        # ("pandas_scan does not exist"), its Arrow scan does not; the conversion is zero-copy for numbers.
        conn.register("incoming_frame", plain_arrow(frame))
        try:
            existing = self._columns(conn, table)
            if existing is None:
                conn.execute(f"CREATE TABLE {self.table(table)} AS SELECT * FROM incoming_frame")
                return
            # Additive schema evolution: a new column in the source becomes a new column here.
            types = dict(conn.execute("SELECT column_name, column_type FROM (DESCRIBE incoming_frame)").fetchall())
            for column in frame.columns:
                if column not in existing:
                    quoted = '"' + column.replace('"', '""') + '"'
                    conn.execute(f"ALTER TABLE {self.table(table)} ADD COLUMN {quoted} {types[column]}")
            conn.execute(f"INSERT INTO {self.table(table)} BY NAME SELECT * FROM incoming_frame")
        finally:
            try:
                conn.unregister("incoming_frame")
            except duckdb.Error:
                pass  # an aborted transaction refuses even this; the original error is what matters

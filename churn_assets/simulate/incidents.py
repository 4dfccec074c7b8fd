"""Incidents: change the local source the way real incidents do, and undo them.

The seeded view is kept as `analytics.customer_features_monthly_clean`; an incident replaces
the public view by a faulty one built on it, and `reset` puts the clean definition back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import duckdb

from churn_assets.simulate.seed import VIEW

CLEAN = VIEW + "_clean"


def _missing_column(month: dt.date, column: str) -> str:
    # The data engineering team's view silently stops selecting a column (every month).
    return f"SELECT * EXCLUDE ({column}) FROM {CLEAN}"


def _scrambled_ids(month: dt.date, column: str) -> str:
    # A bad join attaches each customer's features to another customer, in one month.
    return f"""
    WITH shuffled AS (
        SELECT a.customer_id AS true_id, b.customer_id AS wrong_id
        FROM (SELECT customer_id, row_number() OVER (ORDER BY customer_id) AS n
              FROM {CLEAN} WHERE snapshot_month = DATE '{month.isoformat()}') a
        JOIN (SELECT customer_id, row_number() OVER (ORDER BY hash(customer_id)) AS n
              FROM {CLEAN} WHERE snapshot_month = DATE '{month.isoformat()}') b USING (n)
    )
    SELECT * REPLACE (CASE WHEN v.snapshot_month = DATE '{month.isoformat()}'
                           THEN s.wrong_id ELSE v.customer_id END AS customer_id)
    FROM {CLEAN} v LEFT JOIN shuffled s
      ON s.true_id = v.customer_id AND v.snapshot_month = DATE '{month.isoformat()}'
    """


INCIDENTS: dict[str, tuple[str, Callable[[dt.date, str], str]]] = {
    "missing-column": ("the view drops a feature column (default tenure_months)", _missing_column),
    "scrambled-ids": ("features attached to the wrong customers in one month", _scrambled_ids),
}


def apply_incident(database: str, name: str, month: dt.date, column: str = "tenure_months") -> str:
    """Replace the source view by a faulty one; returns a one-line description."""
    if name not in INCIDENTS:
        raise ValueError(f"unknown incident {name!r}; known: {', '.join(INCIDENTS)} (or 'reset')")
    if not column.isidentifier():
        raise ValueError(f"{column!r} is not a plain column name")
    description, build = INCIDENTS[name]
    with duckdb.connect(database) as conn:
        _keep_clean_copy(conn)
        conn.execute(f"CREATE OR REPLACE VIEW {VIEW} AS {build(month, column)}")
    return f"{name}: {description} (month {month})"


def reset(database: str) -> None:
    """Restore the clean source view."""
    with duckdb.connect(database) as conn:
        if _exists(conn, CLEAN):
            conn.execute(f"CREATE OR REPLACE VIEW {VIEW} AS SELECT * FROM {CLEAN}")


def _keep_clean_copy(conn) -> None:
    if not _exists(conn, CLEAN):
        (definition,) = conn.execute(
            "SELECT sql FROM duckdb_views() WHERE schema_name = 'analytics' AND view_name = 'customer_features_monthly'"
        ).fetchone()
        conn.execute(definition.replace(VIEW, CLEAN, 1))


def _exists(conn, view: str) -> bool:
    schema, name = view.split(".")
    return bool(conn.execute("SELECT count(*) FROM duckdb_views() WHERE schema_name = ? AND view_name = ?", [schema, name]).fetchone()[0])

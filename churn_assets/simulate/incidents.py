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


def _lit(month: dt.date) -> str:
    # A date object formatted by us, never user text: safe to inline in a view definition.
    return f"DATE '{month.isoformat()}'"


def _in_month(month: dt.date, then: str, otherwise: str) -> str:
    return f"CASE WHEN snapshot_month = {_lit(month)} THEN {then} ELSE {otherwise} END"


def _missing_column(month: dt.date, column: str) -> str:
    # The data engineering team's view silently stops selecting a column (every month).
    return f"SELECT * EXCLUDE ({column}) FROM {CLEAN}"


def _renamed_column(month: dt.date, column: str) -> str:
    # The view renames a column: the old name is gone, a new one appears.
    return f"SELECT * EXCLUDE ({column}), {column} AS {column}_renamed FROM {CLEAN}"


def _replaced_in_month(month: dt.date, column: str, then: str, otherwise: str | None = None) -> str:
    """The clean view with `column` replaced by `then` in the month (by `otherwise`, else itself, in others)."""
    return f"SELECT * REPLACE ({_in_month(month, then, otherwise or column)} AS {column}) FROM {CLEAN}"


def _null_ids(month: dt.date, column: str) -> str:
    return _replaced_in_month(month, "customer_id", "CASE WHEN customer_id % 50 = 0 THEN NULL ELSE customer_id END")


def _duplicate_ids(month: dt.date, column: str) -> str:
    # A fan-out join repeats some customers.
    return (
        f"SELECT * FROM {CLEAN} UNION ALL SELECT * FROM {CLEAN} WHERE snapshot_month = {_lit(month)} AND customer_id "
        "% 100 = 0"
    )


def _empty_month(month: dt.date, column: str) -> str:
    return f"SELECT * FROM {CLEAN} WHERE snapshot_month <> {_lit(month)}"


def _volume_drop(month: dt.date, column: str) -> str:
    # A partial load: only about 30% of the month's customers arrive.
    return f"SELECT * FROM {CLEAN} WHERE snapshot_month <> {_lit(month)} OR customer_id % 10 < 3"


def _unit_change(month: dt.date, column: str) -> str:
    # Billing starts sending monthly charges in cents instead of currency units.
    return _replaced_in_month(month, "monthly_charges", "monthly_charges * 100")


def _scrambled_ids(month: dt.date, column: str) -> str:
    # A bad join attaches each customer's features to another customer, in one month.
    m = _lit(month)
    return f"""
    WITH shuffled AS (
        SELECT a.customer_id AS true_id, b.customer_id AS wrong_id
        FROM (SELECT customer_id, row_number() OVER (ORDER BY customer_id) AS n
              FROM {CLEAN} WHERE snapshot_month = {m}) a
        JOIN (SELECT customer_id, row_number() OVER (ORDER BY hash(customer_id)) AS n
              FROM {CLEAN} WHERE snapshot_month = {m}) b USING (n)
    )
    SELECT v.* REPLACE (CASE WHEN v.snapshot_month = {m} THEN s.wrong_id ELSE v.customer_id END AS customer_id)
    FROM {CLEAN} v LEFT JOIN shuffled s ON s.true_id = v.customer_id AND v.snapshot_month = {m}
    """


def _excluded_customers_listed(month: dt.date, column: str) -> str:
    # The consent table's join breaks: every do-not-contact flag of the month arrives NULL, so
    # customers who must not be contacted would be scored and listed.
    return _replaced_in_month(month, "do_not_contact", "CAST(NULL AS BOOLEAN)")


def _mistyped_column(month: dt.date, column: str) -> str:
    # An export starts writing amounts as text with a currency suffix.
    return f"SELECT * REPLACE (CAST(monthly_charges AS VARCHAR) || ' EUR' AS monthly_charges) FROM {CLEAN}"


def _malformed_ids(month: dt.date, column: str) -> str:
    # A source system prefixes some ids: the id column turns into text.
    ids = "CASE WHEN customer_id % 100 = 0 THEN 'CUST-' || customer_id ELSE CAST(customer_id AS VARCHAR) END"
    return _replaced_in_month(month, "customer_id", ids, otherwise="CAST(customer_id AS VARCHAR)")


def _out_of_range(month: dt.date, column: str) -> str:
    return _replaced_in_month(month, "tenure_months", "CASE WHEN customer_id % 100 = 0 THEN -5 ELSE tenure_months END")


def _infinite_values(month: dt.date, column: str) -> str:
    charges = "CASE WHEN customer_id % 100 = 0 THEN CAST('inf' AS DOUBLE) ELSE monthly_charges END"
    return _replaced_in_month(month, "monthly_charges", charges)


def _constant_feature(month: dt.date, column: str) -> str:
    # A feed stuck on its default value for every customer.
    return _replaced_in_month(month, "satisfaction_score", "3.0")


def _unseen_category(month: dt.date, column: str) -> str:
    # A new plan launches: a category no model saw in training (scored as missing, no error).
    return _replaced_in_month(month, "plan", "CASE WHEN customer_id % 20 = 0 THEN 'platinum' ELSE plan END")


def _future_rows(month: dt.date, column: str) -> str:
    # Rows stamped two months after the month: a clock or ETL error.
    later = f"DATE '{(month.replace(day=1) + dt.timedelta(days=62)).replace(day=1).isoformat()}'"
    return (
        f"SELECT * FROM {CLEAN} UNION ALL "
        f"SELECT * REPLACE ({later} AS snapshot_month) FROM {CLEAN} WHERE snapshot_month = {_lit(month)}"
    )


def _immature_labels(month: dt.date, column: str) -> str:
    # The view stops masking labels whose window has not closed: the outcome leaks into the month.
    return _replaced_in_month(
        month, "churned_within_3m", "COALESCE(churned_within_3m, CAST(customer_id % 2 AS SMALLINT))"
    )


def _feature_shift(month: dt.date, column: str) -> str:
    # The web analytics vendor changes its definition of a session: every avg_session_minutes of
    # the month is 60% longer. Valid values (no contract rule is broken), a list is published; only
    # the feature's drift against last month says something moved.
    return _replaced_in_month(month, "avg_session_minutes", "avg_session_minutes * 1.6")


INCIDENTS: dict[str, tuple[str, Callable[[dt.date, str], str]]] = {
    "missing-column": (
        "the view drops a feature column (--column, default tenure_months), every month",
        _missing_column,
    ),
    "renamed-column": ("the view renames a feature column (--column), every month", _renamed_column),
    "null-ids": ("2% of the month's customer_id are NULL", _null_ids),
    "duplicate-ids": ("1% of the month's customers appear twice", _duplicate_ids),
    "empty-month": ("the month has no rows at all", _empty_month),
    "volume-drop": ("only about 30% of the month's customers arrive", _volume_drop),
    "unit-change": ("monthly_charges arrive in cents instead of currency units", _unit_change),
    "scrambled-ids": ("features attached to the wrong customers in one month", _scrambled_ids),
    "excluded-customers-listed": ("do_not_contact flags arrive NULL for the month", _excluded_customers_listed),
    "mistyped-column": ("monthly_charges arrive as text ('12.50 EUR'), every month", _mistyped_column),
    "malformed-ids": ("1% of the month's customer_id arrive as 'CUST-<id>' text", _malformed_ids),
    "out-of-range": ("1% of the month's tenure_months are negative", _out_of_range),
    "infinite-values": ("1% of the month's monthly_charges are infinite", _infinite_values),
    "constant-feature": ("satisfaction_score is 3.0 for every customer of the month", _constant_feature),
    "unseen-category": (
        "5% of the month's customers on a new plan 'platinum' (handled, not an error)",
        _unseen_category,
    ),
    "feature-shift": (
        "avg_session_minutes of the month 60% longer (a new session definition; valid values, published)",
        _feature_shift,
    ),
    "future-rows": ("a copy of the month dated two months later", _future_rows),
    "immature-labels": ("churned_within_3m filled in for the month before its window closed", _immature_labels),
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
    return bool(
        conn.execute(
            "SELECT count(*) FROM duckdb_views() WHERE schema_name = ? AND view_name = ?", [schema, name]
        ).fetchone()[0]
    )

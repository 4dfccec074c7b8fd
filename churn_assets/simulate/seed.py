"""Write the simulated business into a DuckDB file: raw tables plus the feature view.

The view ``analytics.customer_features_monthly`` is the data engineering team's source
contract: one row per customer per month, features, eligibility columns and labels.
Labels are computed in SQL from the event tables and masked to NULL until their window
has closed relative to ``raw.data_as_of``; the SQL sticks to plain joins, CASE and
``INTERVAL 'n' MONTH`` arithmetic so it ports to other warehouses.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd

from churn_assets.rules.months import last_completed_month
from churn_assets.simulate.business import simulate_business

VIEW = "analytics.customer_features_monthly"

# Column types of the raw tables (the pandas frames are cast on write, so categoricals
# land as VARCHAR rather than ENUM and timestamps as DATE).
RAW_SCHEMAS: dict[str, dict[str, str]] = {
    "plans": {
        "plan_code": "VARCHAR",
        "plan_name": "VARCHAR",
        "tier_rank": "INTEGER",
        "list_price": "DOUBLE",
        "data_allowance_gb": "DOUBLE",
    },
    "customers": {
        "customer_id": "BIGINT",
        "signup_month": "DATE",
        "region": "VARCHAR",
        "segment": "VARCHAR",
        "age_band": "VARCHAR",
        "acquisition_channel": "VARCHAR",
        "payment_method": "VARCHAR",
        "paperless_billing": "BOOLEAN",
        "do_not_contact": "BOOLEAN",
    },
    "customer_months": {
        "customer_id": "BIGINT",
        "snapshot_month": "DATE",
        "plan_code": "VARCHAR",
        "contract_type": "VARCHAR",
        "contract_end_date": "DATE",
        "monthly_charges": "DOUBLE",
        "total_charges": "DOUBLE",
        "data_usage_gb": "DOUBLE",
        "usage_change_3m": "DOUBLE",
        "call_minutes": "DOUBLE",
        "num_support_tickets_3m": "BIGINT",
        "late_payments_6m": "BIGINT",
        "num_products": "BIGINT",
        "has_streaming": "BOOLEAN",
        "has_device_protection": "BOOLEAN",
        "discount_pct": "DOUBLE",
        "nps_score": "BIGINT",
        "avg_session_minutes": "DOUBLE",
        "logins_last_month": "BIGINT",
        "satisfaction_score": "DOUBLE",
    },
    "plan_changes": {
        "customer_id": "BIGINT",
        "change_month": "DATE",
        "from_plan_code": "VARCHAR",
        "to_plan_code": "VARCHAR",
    },
    "cancellations": {"customer_id": "BIGINT", "cancel_month": "DATE", "reason": "VARCHAR"},
    "data_as_of": {
        "as_of_month": "DATE",
        "first_month": "DATE",
        "initial_customers": "BIGINT",
        "seed": "BIGINT",
    },
}

VIEW_SQL = f"""
CREATE VIEW {VIEW} AS
WITH as_of AS (
    SELECT MAX(as_of_month) AS as_of_month FROM raw.data_as_of
),
tier_moves AS (
    -- at most one plan change per customer and month
    SELECT pc.customer_id, pc.change_month, f.tier_rank AS from_tier, t.tier_rank AS to_tier
    FROM raw.plan_changes pc
    JOIN raw.plans f ON f.plan_code = pc.from_plan_code
    JOIN raw.plans t ON t.plan_code = pc.to_plan_code
),
base AS (
    SELECT
        cm.*,
        c.region, c.payment_method, c.segment, c.age_band, c.acquisition_channel,
        c.paperless_billing, c.do_not_contact, c.signup_month,
        p.plan_name,
        x.cancel_month,
        a.as_of_month,
        CASE WHEN x.cancel_month = cm.snapshot_month THEN 'cancelled' ELSE 'active' END AS account_status
    FROM raw.customer_months cm
    JOIN raw.customers c ON c.customer_id = cm.customer_id
    JOIN raw.plans p ON p.plan_code = cm.plan_code
    LEFT JOIN raw.cancellations x ON x.customer_id = cm.customer_id
    CROSS JOIN as_of a
)
SELECT
    b.customer_id,
    b.snapshot_month,
    b.plan_name AS plan,
    b.contract_type,
    b.region,
    b.payment_method,
    b.segment,
    b.age_band,
    b.acquisition_channel,
    CAST((EXTRACT(YEAR FROM b.snapshot_month) - EXTRACT(YEAR FROM b.signup_month)) * 12
         + EXTRACT(MONTH FROM b.snapshot_month) - EXTRACT(MONTH FROM b.signup_month) AS BIGINT) AS tenure_months,
    b.monthly_charges,
    b.total_charges,
    b.data_usage_gb,
    b.usage_change_3m,
    b.call_minutes,
    b.num_support_tickets_3m,
    b.late_payments_6m,
    CAST(b.contract_end_date - b.snapshot_month AS BIGINT) AS days_to_contract_end,
    b.num_products,
    b.has_streaming,
    b.has_device_protection,
    b.paperless_billing,
    b.discount_pct,
    b.nps_score,
    b.avg_session_minutes,
    b.logins_last_month,
    b.satisfaction_score,
    b.do_not_contact,
    b.account_status,
    CAST(CASE
        WHEN b.account_status = 'cancelled' THEN NULL
        WHEN b.snapshot_month + INTERVAL '3' MONTH > b.as_of_month THEN NULL
        WHEN b.cancel_month > b.snapshot_month
             AND b.cancel_month <= b.snapshot_month + INTERVAL '3' MONTH THEN 1
        ELSE 0
    END AS SMALLINT) AS churned_within_3m,
    CAST(CASE
        WHEN b.account_status = 'cancelled' THEN NULL
        WHEN b.snapshot_month + INTERVAL '1' MONTH > b.as_of_month THEN NULL
        WHEN m.to_tier < m.from_tier THEN 1
        ELSE 0
    END AS SMALLINT) AS downgraded_next_month,
    CAST(CASE
        WHEN b.account_status = 'cancelled' THEN NULL
        WHEN b.snapshot_month + INTERVAL '1' MONTH > b.as_of_month THEN NULL
        WHEN m.to_tier > m.from_tier THEN 1
        ELSE 0
    END AS SMALLINT) AS upgraded_next_month
FROM base b
LEFT JOIN tier_moves m
    ON m.customer_id = b.customer_id
   AND m.change_month = CAST(b.snapshot_month + INTERVAL '1' MONTH AS DATE)
"""


def _select_cast(columns: dict[str, str]) -> str:
    return ", ".join(f"CAST({name} AS {sql_type}) AS {name}" for name, sql_type in columns.items())


def write_tables(
    conn: duckdb.DuckDBPyConnection, tables: dict[str, pd.DataFrame], progress: Callable[[str], None] = lambda _: None
) -> dict[str, int]:
    """(Re)create schemas ``raw`` and ``analytics`` on ``conn`` from simulated tables; rows per table."""
    rows: dict[str, int] = {}
    conn.execute("BEGIN TRANSACTION")
    try:
        # The view depends on raw, so drop analytics first; both are owned by the seed.
        conn.execute("DROP SCHEMA IF EXISTS analytics CASCADE")
        conn.execute("DROP SCHEMA IF EXISTS raw CASCADE")
        conn.execute("CREATE SCHEMA raw")
        conn.execute("CREATE SCHEMA analytics")
        for name, columns in RAW_SCHEMAS.items():
            frame = tables[name]
            started = time.perf_counter()
            conn.register("_seed_frame", frame)
            conn.execute(f"CREATE TABLE raw.{name} AS SELECT {_select_cast(columns)} FROM _seed_frame")
            conn.unregister("_seed_frame")
            rows[f"raw.{name}"] = len(frame)
            progress(f"wrote raw.{name}: {len(frame):,} rows in {time.perf_counter() - started:.1f}s")
        conn.execute(VIEW_SQL)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    progress(f"created view {VIEW}")
    return rows


def seed_duckdb(
    database: str | Path,
    customers: int = 50_000,
    months: int = 24,
    seed: int = 7,
    end_month: dt.date | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Simulate the business and (re)create schemas ``raw`` and ``analytics`` in ``database``.

    ``end_month`` (normalised to the 1st) is the as-of month; None means the last completed
    calendar month.  Everything previously in the two schemas is replaced.  Returns a summary:
    database, rows per table, months, first_month, as_of_month, seconds per phase.
    """
    say = progress or (lambda _: None)
    end_month = (end_month or last_completed_month()).replace(day=1)
    say(f"simulating {customers:,} customers x {months} months ending {end_month:%Y-%m} (seed {seed})")
    started = time.perf_counter()
    tables = simulate_business(customers, months, seed, end_month)
    simulated = time.perf_counter()
    say(f"simulated in {simulated - started:.1f}s: {len(tables['customer_months']):,} customer-months")

    Path(database).parent.mkdir(parents=True, exist_ok=True)
    conn = duckdb.connect(str(database))
    try:
        rows = write_tables(conn, tables, say)
    finally:
        conn.close()
    written = time.perf_counter()
    first_month = tables["data_as_of"]["first_month"].iloc[0].date()
    return {
        "database": str(database),
        "rows": rows,
        "view": VIEW,
        "months": months,
        "first_month": first_month,
        "as_of_month": end_month,
        "customers_initial": customers,
        "customers_total": int(len(tables["customers"])),
        "seconds": {"simulate": round(simulated - started, 2), "write": round(written - simulated, 2)},
    }

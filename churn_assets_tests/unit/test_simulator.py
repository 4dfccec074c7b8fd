"""The simulated business and the source view it seeds (small sizes: the suite stays fast)."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest

from churn_assets.simulate import seed_duckdb, simulate_business
from churn_assets.simulate.seed import VIEW, last_completed_month

CUSTOMERS, MONTHS, SEED = 3_000, 8, 7
END = dt.date(2025, 6, 1)
FIRST = dt.date(2024, 11, 1)

VIEW_TYPES = {
    "customer_id": "BIGINT",
    "snapshot_month": "DATE",
    "plan": "VARCHAR",
    "contract_type": "VARCHAR",
    "region": "VARCHAR",
    "payment_method": "VARCHAR",
    "segment": "VARCHAR",
    "age_band": "VARCHAR",
    "acquisition_channel": "VARCHAR",
    "tenure_months": "BIGINT",
    "monthly_charges": "DOUBLE",
    "total_charges": "DOUBLE",
    "data_usage_gb": "DOUBLE",
    "usage_change_3m": "DOUBLE",
    "call_minutes": "DOUBLE",
    "num_support_tickets_3m": "BIGINT",
    "late_payments_6m": "BIGINT",
    "days_to_contract_end": "BIGINT",
    "num_products": "BIGINT",
    "has_streaming": "BOOLEAN",
    "has_device_protection": "BOOLEAN",
    "paperless_billing": "BOOLEAN",
    "discount_pct": "DOUBLE",
    "nps_score": "BIGINT",
    "avg_session_minutes": "DOUBLE",
    "logins_last_month": "BIGINT",
    "satisfaction_score": "DOUBLE",
    "do_not_contact": "BOOLEAN",
    "account_status": "VARCHAR",
    "churned_within_3m": "SMALLINT",
    "downgraded_next_month": "SMALLINT",
    "upgraded_next_month": "SMALLINT",
}
LABELS = ["churned_within_3m", "downgraded_next_month", "upgraded_next_month"]


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return simulate_business(CUSTOMERS, MONTHS, SEED, END)


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    path = tmp_path_factory.mktemp("sim") / "warehouse.duckdb"
    messages: list[str] = []
    summary = seed_duckdb(path, CUSTOMERS, MONTHS, SEED, END, progress=messages.append)
    return path, summary, messages


@pytest.fixture(scope="module")
def view(database) -> pd.DataFrame:
    path, _, _ = database
    with duckdb.connect(str(path), read_only=True) as conn:
        frame = conn.execute(f"SELECT * FROM {VIEW}").df()
    frame["snapshot_month"] = pd.to_datetime(frame["snapshot_month"])
    return frame.sort_values(["customer_id", "snapshot_month"]).reset_index(drop=True)


def _months_between(later: pd.Series, earlier: pd.Series) -> pd.Series:
    return (later.dt.year - earlier.dt.year) * 12 + later.dt.month - earlier.dt.month


# --- simulator ---------------------------------------------------------------------------


def test_same_arguments_give_identical_tables(tables):
    again = simulate_business(CUSTOMERS, MONTHS, SEED, END)
    assert tables.keys() == again.keys()
    for name in tables:
        pd.testing.assert_frame_equal(tables[name], again[name], check_exact=True)


def test_another_seed_gives_another_business(tables):
    other = simulate_business(CUSTOMERS, MONTHS, SEED + 1, END)
    assert not tables["customer_months"]["monthly_charges"].equals(other["customer_months"]["monthly_charges"])


def test_first_month_has_exactly_the_requested_customers(tables):
    months = tables["customer_months"].groupby("snapshot_month").size()
    assert len(months) == MONTHS
    assert months.index.min() == pd.Timestamp(FIRST) and months.index.max() == pd.Timestamp(END)
    assert months.iloc[0] == CUSTOMERS
    # The base drifts but stays in the same ballpark.
    assert 0.85 * CUSTOMERS < months.iloc[-1] < 1.2 * CUSTOMERS


def test_end_month_is_normalised_to_the_first_of_the_month():
    a = simulate_business(200, 3, SEED, dt.date(2025, 6, 17))
    b = simulate_business(200, 3, SEED, END)
    pd.testing.assert_frame_equal(a["customer_months"], b["customer_months"])


def test_last_completed_month():
    assert last_completed_month(dt.date(2025, 1, 15)) == dt.date(2024, 12, 1)
    assert last_completed_month(dt.date(2025, 3, 1)) == dt.date(2025, 2, 1)


# --- the seeded view ---------------------------------------------------------------------


def test_view_columns_and_types_follow_the_contract(database):
    path, _, _ = database
    with duckdb.connect(str(path), read_only=True) as conn:
        described = conn.execute(f"DESCRIBE {VIEW}").df()
    assert dict(zip(described["column_name"], described["column_type"])) == VIEW_TYPES


def test_summary_and_progress(database, view):
    _, summary, messages = database
    assert summary["as_of_month"] == END and summary["first_month"] == FIRST
    assert summary["months"] == MONTHS
    assert summary["rows"]["raw.customer_months"] == len(view)
    assert any("raw.customer_months" in m for m in messages)
    assert any(VIEW in m for m in messages)


def test_customer_id_unique_within_each_month(view):
    assert not view.duplicated(["customer_id", "snapshot_month"]).any()
    assert view["customer_id"].notna().all()
    assert (view["snapshot_month"].dt.day == 1).all()


def test_customers_join_and_leave(view):
    first, last = view["snapshot_month"].min(), view["snapshot_month"].max()
    spans = view.groupby("customer_id")["snapshot_month"].agg(["min", "max", "size"])
    assert (spans["min"] > first).sum() > 0.05 * CUSTOMERS  # joiners
    assert (spans["max"] < last).sum() > 0.05 * CUSTOMERS  # leavers
    # Each customer's rows are consecutive months: no gaps.
    assert (_months_between(spans["max"], spans["min"]) + 1 == spans["size"]).all()


def test_cancelled_row_is_the_customers_last_row(view):
    cancelled = view[view["account_status"] == "cancelled"]
    assert set(view["account_status"]) == {"active", "cancelled"}
    assert not cancelled["customer_id"].duplicated().any()
    last_month = view.groupby("customer_id")["snapshot_month"].max()
    assert (cancelled["snapshot_month"].to_numpy() == last_month.loc[cancelled["customer_id"]].to_numpy()).all()
    # Everyone whose rows stop before the as-of month has cancelled.
    stopped = last_month[last_month < view["snapshot_month"].max()].index
    assert set(stopped) <= set(cancelled["customer_id"])


def test_labels_are_null_exactly_when_their_window_is_open_or_the_customer_is_gone(view):
    as_of = view["snapshot_month"].max()
    ahead = _months_between(pd.Series(as_of, index=view.index), view["snapshot_month"])
    gone = view["account_status"] == "cancelled"
    assert (view["churned_within_3m"].isna() == (gone | (ahead < 3))).all()
    for label in ("downgraded_next_month", "upgraded_next_month"):
        assert (view[label].isna() == (gone | (ahead < 1))).all()
        assert set(view[label].dropna().unique()) <= {0, 1}


def test_labels_agree_with_what_happens_next(view):
    cancel_month = view.loc[view["account_status"] == "cancelled"].set_index("customer_id")["snapshot_month"]
    labelled = view[view["churned_within_3m"].notna()]
    ahead = _months_between(labelled["customer_id"].map(cancel_month), labelled["snapshot_month"])
    assert (labelled["churned_within_3m"] == ahead.between(1, 3).astype(int)).all()

    tiers = {"basic": 1, "standard": 2, "premium": 3, "unlimited": 4}
    frame = view.assign(tier=view["plan"].map(tiers))
    frame["next_tier"] = frame.groupby("customer_id")["tier"].shift(-1)
    labelled = frame[frame["downgraded_next_month"].notna()]
    assert labelled["next_tier"].notna().all()
    assert (labelled["downgraded_next_month"] == (labelled["next_tier"] < labelled["tier"]).astype(int)).all()
    assert (labelled["upgraded_next_month"] == (labelled["next_tier"] > labelled["tier"]).astype(int)).all()


def test_rates_are_realistic(view):
    monthly_cancel = (view["account_status"] == "cancelled").groupby(view["snapshot_month"]).mean()
    assert 0.01 < monthly_cancel.mean() < 0.035
    assert 0.035 < view["churned_within_3m"].mean() < 0.10
    assert 0.003 < view["downgraded_next_month"].mean() < 0.04
    assert 0.005 < view["upgraded_next_month"].mean() < 0.05
    dnc = view.groupby("customer_id")["do_not_contact"].agg(["min", "max"])
    assert (dnc["min"] == dnc["max"]).all()  # stable per customer
    assert 0.02 < dnc["max"].mean() < 0.06
    nps_present = view["nps_score"].notna().mean()
    assert 0.1 < nps_present < 0.35  # surveyed customers only
    assert view["tenure_months"].min() == 0 and (view["monthly_charges"] > 0).all()
    assert view["days_to_contract_end"].between(0, 800).all()
    assert view[["plan", "contract_type", "region", "payment_method"]].notna().all().all()


def test_seeding_twice_recreates_cleanly(tmp_path):
    path = tmp_path / "twice.duckdb"
    first = seed_duckdb(path, 500, 4, SEED, END)
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE TABLE raw.leftover AS SELECT 1 AS x")
    second = seed_duckdb(path, 500, 4, SEED, END)
    assert first["rows"] == second["rows"]
    with duckdb.connect(str(path), read_only=True) as conn:
        tables = conn.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables "
            "WHERE table_schema IN ('raw', 'analytics') ORDER BY 1"
        ).fetchall()
        rows = conn.execute(f"SELECT count(*) FROM {VIEW}").fetchone()[0]
    assert ("raw.leftover",) not in tables
    assert ("analytics.customer_features_monthly",) in tables
    assert rows == second["rows"]["raw.customer_months"]

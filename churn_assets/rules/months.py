"""Month arithmetic and the training window (the no-leakage rule lives here)."""

from __future__ import annotations

import datetime as dt
import os


def parse_month(value: str | dt.date) -> dt.date:
    """'2026-10-01' or '2026-10' (or a date) -> the first day of that month; ValueError otherwise."""
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        if value.day != 1:
            raise ValueError(f"{value} is not the first day of a month")
        return value
    text = str(value).strip()
    try:
        if len(text) == 7:
            return dt.date.fromisoformat(text + "-01")
        month = dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a month (expected YYYY-MM or YYYY-MM-01)") from None
    if month.day != 1:
        raise ValueError(f"{value!r} is not the first day of a month")
    return month


def add_months(month: dt.date, months: int) -> dt.date:
    """The first day of the month `months` after (or before, if negative) `month`."""
    index = month.year * 12 + (month.month - 1) + months
    return dt.date(index // 12, index % 12 + 1, 1)


def month_range(first: dt.date, last: dt.date) -> list[dt.date]:
    """Every month from `first` to `last`, both included."""
    months, current = [], first
    while current <= last:
        months.append(current)
        current = add_months(current, 1)
    return months


def today() -> dt.date:
    """Today, or $CHURN_TODAY (YYYY-MM-DD) to replay the pipeline as of a past date (tests, demos):
    the checks that depend on the present (rows dated in the future, labels known too early) use it."""
    override = os.environ.get("CHURN_TODAY")
    if override:
        try:
            return dt.date.fromisoformat(override)
        except ValueError:
            raise ValueError(f"CHURN_TODAY={override!r} is not a date (YYYY-MM-DD)") from None
    return dt.date.today()


def last_completed_month(on: dt.date | None = None) -> dt.date:
    """The month before the one `on` (default: today()) is in."""
    on = on or today()
    return add_months(on.replace(day=1), -1)


def latest_labelled_month(month: dt.date, horizon_months: int) -> dt.date:
    """The latest snapshot month whose label window has closed by the end of `month`.

    The label of snapshot month m describes months m+1 .. m+horizon, so it is known once
    month m+horizon has closed: m <= month - horizon.
    """
    return add_months(month, -horizon_months)


def training_months(month: dt.date, horizon_months: int, window_months: int) -> list[dt.date]:
    """The labelled snapshot months a model trained at `month` may learn from (oldest first)."""
    last = latest_labelled_month(month, horizon_months)
    return month_range(add_months(last, -(window_months - 1)), last)

"""The row-count band of a snapshot: how far a month's volume may move from the month before.

From a source's second month on the band always applies: against the previous month's stored
snapshot, or, when the previous month's contract refused it, against either that month's recorded
count or the last stored snapshot before it (a second drop after a refused drop is blocked, and a
recovery to the last good volume is not). A month whose previous month has no record at all (never
run, or its run failed with an error) cannot be judged: it is for the caller to refuse it.
"""

from __future__ import annotations

import datetime as dt
import math
from fractions import Fraction

from churn_assets.rules.months import add_months


def exact_band(reference: int, max_change: float) -> tuple[int, int]:
    """The counts within +-max_change of `reference`, bounds included and exact (299 rows with a
    change of 1.0 allow 0..598, never 599): the ratio is read as the decimal it was written as."""
    change = Fraction(str(max_change))
    return max(0, math.ceil(reference * (1 - change))), math.floor(reference * (1 + change))


def month_to_run_first(month: dt.date, recorded: set[dt.date]) -> dt.date | None:
    """The earliest month that must run before `month`, or None when `month` may run: the month
    before it has a record (stored or refused), or nothing before `month` was ever recorded (it is
    the first month of this source here)."""
    earlier = [m for m in recorded if m < month]
    previous = add_months(month, -1)
    if not earlier or previous in recorded:
        return None
    return add_months(max(earlier), 1)


def row_count_band(
    month: dt.date, rows: int, stored: dict[dt.date, int], refused: dict[dt.date, int], max_change: float | None
) -> tuple[tuple[int, int] | None, str | None]:
    """The band `rows` must fall in, and a note saying what it was measured against when that is not
    simply the month before (or why no band applies: switched off, or the source's first month).

    `stored`: row counts of the stored snapshots; `refused`: recorded counts of months whose contract
    refused them. The previous month must be in one of them unless nothing earlier is (see
    month_to_run_first)."""
    if max_change is None:
        return None, "row-count band off (max_row_count_change: null)"
    previous = add_months(month, -1)
    if previous in stored:
        return exact_band(stored[previous], max_change), None
    if previous not in refused:
        return None, f"row-count band not applied: {month} is the first month recorded for this source"
    last_stored = max((m for m in stored if m < month), default=None)
    if last_stored is not None:
        band = exact_band(stored[last_stored], max_change)
        if band[0] <= rows <= band[1]:
            return band, (
                f"row count judged against {last_stored} ({stored[last_stored]:,} rows, the last stored snapshot); "
                f"{previous}'s {refused[previous]:,} rows were refused by its contract"
            )
    because = f" (outside {last_stored}'s band too)" if last_stored is not None else ""
    return exact_band(refused[previous], max_change), (
        f"row count judged against {previous}'s {refused[previous]:,} rows, recorded when its contract refused it"
        + because
    )

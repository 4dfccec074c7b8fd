import datetime as dt

import pytest

from churn_assets.rules.months import (
    add_months,
    last_completed_month,
    latest_labelled_month,
    month_range,
    parse_month,
    training_months,
)

D = dt.date


def test_add_months_crosses_years_both_ways():
    assert add_months(D(2025, 11, 1), 3) == D(2026, 2, 1)
    assert add_months(D(2025, 2, 1), -3) == D(2024, 11, 1)
    assert add_months(D(2025, 1, 1), -12) == D(2024, 1, 1)


def test_parse_month_accepts_both_forms_and_refuses_the_rest():
    assert parse_month("2026-10") == D(2026, 10, 1)
    assert parse_month("2026-10-01") == D(2026, 10, 1)
    for bad in ["2026-10-15", "October", "2026-13", "", "2026/10"]:
        with pytest.raises(ValueError):
            parse_month(bad)


def test_last_completed_month_is_the_month_before_today():
    assert last_completed_month(D(2026, 11, 26)) == D(2026, 10, 1)
    assert last_completed_month(D(2026, 1, 1)) == D(2025, 12, 1)


def test_training_window_ends_where_labels_have_matured():
    # Horizon 3: the label of July describes Aug..Oct, known once October has closed.
    assert latest_labelled_month(D(2026, 10, 1), 3) == D(2026, 7, 1)
    months = training_months(D(2026, 10, 1), horizon_months=3, window_months=4)
    assert months == [D(2026, 4, 1), D(2026, 5, 1), D(2026, 6, 1), D(2026, 7, 1)]


@pytest.mark.parametrize("horizon", [1, 2, 3, 6])
@pytest.mark.parametrize("window", [1, 6, 12])
def test_no_training_month_has_a_label_window_past_the_training_month(horizon, window):
    for month in month_range(D(2024, 1, 1), D(2026, 12, 1)):
        used = training_months(month, horizon, window)
        assert len(used) == window
        assert all(add_months(m, horizon) <= month for m in used)
        # ...and the newest usable month is used: nothing matured is left out.
        assert add_months(used[-1], horizon + 1) > month

"""The row-count band (always applied from a source's second month on) and blank feature columns."""

import datetime as dt

import numpy as np
import pandas as pd

from churn_assets.checks.contract import ContractSpec, validate_snapshot
from churn_assets.rules.row_count import exact_band, month_to_run_first, row_count_band

JAN, FEB, MAR, APR = (dt.date(2025, m, 1) for m in (1, 2, 3, 4))


def test_the_band_is_the_catalogue_ratio_exactly():
    assert exact_band(299, 1.0) == (0, 598)  # 599 was allowed before
    assert exact_band(300, 0.5) == (150, 450)
    assert exact_band(1000, 0.1) == (900, 1100)  # 0.1 read as the decimal written, not 0.1000000000000000055
    assert exact_band(3, 0.5) == (2, 4)  # bounds included, rounded inwards


def test_the_band_is_measured_against_the_month_before_or_switched_off():
    assert row_count_band(FEB, 400, {JAN: 300}, {}, 0.5) == ((150, 450), None)
    band, note = row_count_band(FEB, 400, {JAN: 300}, {}, None)
    assert band is None and note == "row-count band off (max_row_count_change: null)"


def test_only_a_sources_first_month_goes_without_a_band():
    band, note = row_count_band(JAN, 300, {}, {}, 0.5)
    assert band is None and note == "row-count band not applied: 2025-01-01 is the first month recorded for this source"
    assert month_to_run_first(JAN, set()) is None
    assert month_to_run_first(FEB, {JAN}) is None
    # Re-running a month before everything recorded is its first month, too.
    assert month_to_run_first(JAN, {FEB, MAR}) is None


def test_a_month_whose_previous_month_has_no_record_names_the_month_to_run_first():
    assert month_to_run_first(MAR, {JAN}) == FEB
    assert month_to_run_first(APR, {JAN}) == FEB  # the first gap, not the month right before
    assert month_to_run_first(APR, {JAN, MAR}) is None


def test_after_a_refused_month_a_second_drop_is_blocked_and_a_recovery_is_not():
    stored, refused = {JAN: 3000}, {FEB: 900}  # February dropped 70 % and was refused
    band, note = row_count_band(MAR, 300, stored, refused, 0.5)
    assert band == (450, 1350) and not (band[0] <= 300 <= band[1])
    assert "2025-02-01's 900 rows, recorded when its contract refused it" in note
    assert "outside 2025-01-01's band too" in note
    band, note = row_count_band(MAR, 2900, stored, refused, 0.5)
    assert band == (1500, 4500) and "the last stored snapshot" in note
    # A source whose first month was refused: the recorded count is the only reference.
    band, note = row_count_band(FEB, 100, {}, {JAN: 900}, 0.5)
    assert band == (450, 1350) and "outside" not in note


def contract(**extra):
    return ContractSpec(
        required_columns=["customer_id", "charges", "tenure", "plan"],
        numeric_columns=["charges", "tenure"],
        text_columns=["plan"],
        **extra,
    )


def test_a_feature_blank_for_the_whole_month_is_missing_data_whatever_may_be_constant_says():
    rows = 150
    frame = pd.DataFrame(
        {
            "customer_id": range(rows),
            "charges": np.arange(rows) * 1.0,
            "tenure": [np.nan] * rows,
            "plan": ["basic"] * rows,
        }
    )
    for allowed in ([], ["tenure"]):
        result = validate_snapshot(frame, contract(may_be_constant=allowed))
        assert not result.passed
        assert result.summary() == (
            "tenure holds no value at all in the 150 rows of this month (blank for the whole month): missing data, "
            "refused whatever may_be_constant says"
        )
    blank_text = frame.assign(tenure=np.arange(rows) % 7, plan=None)
    result = validate_snapshot(blank_text, contract())
    assert not result.passed and result.summary().startswith("plan holds no value at all")
    # One value missing here and there is not blank (the not-null rules are the source's to set).
    sparse = frame.assign(tenure=[np.nan if i % 2 else i for i in range(rows)])
    assert validate_snapshot(sparse, contract()).passed

"""Drift of a model's features between the snapshot of a month and of the month before (plain
functions; the `<model>/feature_drift` asset calls them)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from churn_assets.rules.drift import FeatureDrift, drift_gate, feature_drift
from churn_assets.rules.gates import GateResult
from churn_assets.rules.months import add_months
from churn_assets.warehouse.outcomes import FEATURE_DRIFT
from churn_assets.warehouse.snapshots import month_features, stored_snapshot_months


@dataclass(frozen=True)
class MonthDrift:
    month: dt.date
    previous_month: dt.date
    drifts: list[FeatureDrift]
    gate: GateResult


def no_previous_snapshot(warehouse, spec, month: dt.date) -> str | None:
    """Why the month's drift cannot be measured (no stored snapshot of the month before), or None."""
    previous = add_months(month, -1)
    if previous in stored_snapshot_months(warehouse, spec.source.name):
        return None
    return f"no snapshot of {previous} is stored (first month, or its contract refused it): nothing to compare with"


def month_drift(warehouse, spec, month: dt.date) -> MonthDrift:
    """The PSI of every feature of the model between the snapshots of `month` and the month before."""
    previous_month = add_months(month, -1)
    columns = list(spec.features)
    previous = month_features(warehouse, spec.source.name, previous_month, columns)
    current = month_features(warehouse, spec.source.name, month, columns)
    categorical = [f for f in spec.features if f in set(spec.categorical_features)]
    numeric = [f for f in spec.features if f not in set(categorical)]
    drifts = feature_drift(previous, current, numeric, categorical)
    return MonthDrift(
        month, previous_month, drifts, drift_gate(drifts, spec.gates.max_feature_psi, month, previous_month)
    )


def store_drift(warehouse, spec, month: dt.date, drift: MonthDrift | None) -> None:
    """Replace the stored per-feature PSI of the model's month (none: removed)."""
    key = {"model": spec.name, "month": month}
    if drift is None:
        warehouse.replace_rows(FEATURE_DRIFT, key, pd.DataFrame())
        return
    threshold = spec.gates.max_feature_psi
    frame = pd.DataFrame(
        {
            "model": spec.name,
            "month": month,
            "previous_month": drift.previous_month,
            "feature": [d.feature for d in drift.drifts],
            "kind": [d.kind for d in drift.drifts],
            "psi": [float(d.psi) for d in drift.drifts],
            "max_feature_psi": float(threshold),
            "drifted": [bool(d.psi > threshold) for d in drift.drifts],
            "evaluated_at": pd.Timestamp.now(tz="UTC"),
        }
    )
    warehouse.replace_rows(FEATURE_DRIFT, key, frame)

"""A model's training set for a month: matured labels read from the source and joined to the
immutable snapshots (plain functions; the training_set asset calls them)."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import pandas as pd

from churn_assets import modeling
from churn_assets.rules.months import training_months
from churn_assets.warehouse.snapshots import snapshot_table, stored_snapshot_months, training_set_table


class TrainingSetRefused(ValueError):
    """The month's training set cannot be built; the message says why and what to do."""


@dataclass(frozen=True)
class TrainingSet:
    rows: pd.DataFrame
    months: list[dt.date]
    """The labelled months it holds."""
    months_missing_snapshot: list[dt.date]
    labels_missing: int
    content_hash: str
    """Which immutable snapshots, and which labels were joined: the asset's data version."""


def no_labelled_month_yet(warehouse, spec, month: dt.date) -> str | None:
    """Why the month has nothing to train (no label window has closed: no snapshot stored on or
    before M - horizon), or None."""
    wanted = training_months(month, spec.horizon_months, spec.training_window_months)
    if any(m <= wanted[-1] for m in stored_snapshot_months(warehouse, spec.source.name)):
        return None
    return (
        f"no labelled month yet: no snapshot stored on or before {wanted[-1]} (labels mature "
        f"{spec.horizon_months} months after the snapshot)"
    )


def build_training_set(warehouse, spec, month: dt.date) -> TrainingSet:
    """Read the labels of the window's stored snapshots (months M-horizon-window+1 .. M-horizon,
    every one closed by M: no leakage) and store the month's training set."""
    wanted = training_months(month, spec.horizon_months, spec.training_window_months)
    snapshots = stored_snapshot_months(warehouse, spec.source.name)
    available = [m for m in wanted if m in snapshots]
    if not available:
        raise TrainingSetRefused(
            f"No labelled month to train '{spec.name}' at {month}: it needs a snapshot of at least one of "
            f"{wanted[0]} .. {wanted[-1]} (labels mature {spec.horizon_months} months after the snapshot). "
            "Materialise those months' snapshots first, or start later."
        )
    rows = warehouse.read_labels(
        warehouse.relation_for(spec.source), spec.label, snapshot_table(spec.source.name), available
    ).rename(columns={spec.label: "label"})
    rows["label"] = spec.label_as_int(rows["label"])  # ValueError naming the label's unexpected values
    unmapped = int(rows["label"].isna().sum())
    rows = rows.dropna(subset=["label"])
    rows["label"] = rows["label"].astype("int8")
    rows.insert(0, "training_month", month)
    if rows.empty or rows["label"].nunique() < 2:
        raise TrainingSetRefused(
            f"The training set of '{spec.name}' at {month} holds {len(rows)} rows of a single class; cannot train."
        )
    digest = hashlib.sha256("|".join(f"{m}:{snapshots[m]}" for m in available).encode())
    digest.update(modeling.frame_hash(rows, ["snapshot_month", "customer_id"]).encode())
    warehouse.replace_rows(training_set_table(spec.name), {"training_month": month}, rows)
    missing = [m for m in wanted if m not in snapshots]
    return TrainingSet(rows, available, missing, unmapped, digest.hexdigest())


def clear_training_set(warehouse, spec, month: dt.date) -> None:
    """The month has nothing to train: its stored training set is emptied."""
    warehouse.replace_rows(training_set_table(spec.name), {"training_month": month}, pd.DataFrame())

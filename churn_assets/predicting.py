"""A month's predictions: every eligible customer scored by the champion in force, stored, and the
list judged by the business gates (plain functions; the predictions asset calls them)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from churn_assets.rules import gates as rules
from churn_assets.rules.gates import GateResult, MonthPredictions
from churn_assets.scoring import ScoredMonth, score_month, snapshot_columns
from churn_assets.warehouse import registry
from churn_assets.warehouse.lists import PREDICTIONS, list_in_force_month, month_predictions, score_reference
from churn_assets.warehouse.snapshots import month_features


@dataclass(frozen=True)
class JudgedMonth:
    """What a month's predictions step produced: the scores, the list in force it was judged
    against, and every gate's verdict."""

    scored: ScoredMonth
    champion_version: int
    in_force_month: dt.date | None
    gates: list[GateResult]

    @property
    def passed(self) -> bool:
        return all(gate.passed for gate in self.gates)


def no_champion_reason(model: str, month: dt.date) -> str:
    return (
        f"no champion model for '{model}' in force at {month}: no version has passed its quality gates yet, "
        "so nothing is scored or published"
    )


def as_month_predictions(frame: pd.DataFrame, month: dt.date, version: int) -> MonthPredictions:
    """The scored frame as the gates read it (what is stored, without reading it back)."""
    return MonthPredictions(
        ids=frame["customer_id"].to_numpy(),
        scores=frame["score"].to_numpy(dtype=float),
        ranks=frame["rank"].to_numpy(),
        month=month,
        model_version=version,
    )


def predict_month(warehouse, spec, month: dt.date, log: Callable[[str], None] = print) -> JudgedMonth | None:
    """Score the month's eligible customers with the champion in force, store them (replacing the
    month), and judge the list; None when no champion is in force (nothing is scored: the month's
    predictions are emptied)."""
    champion = registry.champion_for(warehouse, spec.name, month)
    if champion is None:
        warehouse.replace_rows(PREDICTIONS, {"model": spec.name, "month": month}, pd.DataFrame())
        return None
    snapshot = month_features(warehouse, spec.source.name, month, snapshot_columns(spec))
    log(f"Scoring the eligible customers of {month} with {spec.name} v{champion.version}")
    scored = score_month(spec, month, snapshot, champion)
    warehouse.replace_rows(PREDICTIONS, {"model": spec.name, "month": month}, scored.frame)
    # The gates judge the frame just stored (the same rows, not read back: at 1M customers a
    # re-read cost seconds); the stored copy's row count is checked instead.
    stored = warehouse.query(
        f"SELECT count(*) AS n FROM {warehouse.table(PREDICTIONS)} WHERE model = ? AND month = ?", [spec.name, month]
    )["n"].iloc[0]
    if int(stored) != len(scored.frame):
        raise RuntimeError(f"{spec.name} {month}: {int(stored)} predictions stored, {len(scored.frame)} scored")
    in_force_month = list_in_force_month(warehouse, spec.name, month)
    in_force = month_predictions(warehouse, spec.name, in_force_month) if in_force_month else None
    gates = rules.business_gates(
        spec.gates,
        spec.list_top_fraction,
        as_month_predictions(scored.frame, month, champion.version),
        in_force,
        eligible_ids=scored.eligible_ids,
        excluded_ids=scored.excluded_ids,
        psi_reference=score_reference(warehouse, spec.name, month, in_force),
    )
    return JudgedMonth(scored, champion.version, in_force_month, gates)

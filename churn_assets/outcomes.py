"""The realised outcome of a model's list once its labels have matured (plain functions; the
`<model>/list_outcome` asset calls them).

The run of month E judges the list of month M = E - horizon: by the end of E, the label window
of M (months M+1 .. M+horizon) has closed, as it has for the training sets of E. The list judged
is the one the business held during M: M's own list, or, when M was blocked, the list in force.
It also judges any earlier list left unjudged: a gate that blocks month E skips E's outcome with
everything downstream of it in E's run, and the next month's run judges that list instead (so
every way of running months, a backfill or `churn-assets run`, judges the same lists).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from churn_assets.rules.gates import GateResult
from churn_assets.rules.months import add_months, month_range
from churn_assets.rules.outcomes import ListOutcome, list_outcome, realised_lift_gate
from churn_assets.warehouse.lists import list_in_force_month, month_predictions, published_list
from churn_assets.warehouse.outcomes import LIST_OUTCOMES, month_labels, outcome_history, published_months
from churn_assets.warehouse.snapshots import snapshot_table, stored_snapshot_months


def judged_month(spec, month: dt.date) -> dt.date:
    """The list month the run of `month` judges: `horizon_months` before it."""
    return add_months(month, -spec.horizon_months)


@dataclass(frozen=True)
class JudgedList:
    month: dt.date
    """The month whose list is judged (M)."""
    list_month: dt.date
    """The list the business held during M (M itself unless M was blocked)."""
    model_version: int | None
    outcome: ListOutcome
    gate: GateResult


def nothing_to_judge(warehouse, spec, month: dt.date) -> str | None:
    """Why the run of `month` judges no list of its horizon before (None when it does)."""
    return no_list_to_judge(warehouse, spec, judged_month(spec, month))


def no_list_to_judge(warehouse, spec, judged: dt.date) -> str | None:
    """Why the list month `judged` has no list to judge (None when it has)."""
    if list_in_force_month(warehouse, spec.name, add_months(judged, 1)) is None:
        return f"no list was in force at {judged}: nothing published by then (its outcome would be judged now)"
    if judged not in stored_snapshot_months(warehouse, spec.source.name):
        return f"no snapshot of {judged} is stored (its data contract refused it): no customers to judge a list on"
    return None


def judge_list(warehouse, spec, month: dt.date) -> JudgedList | str:
    """The outcome of the list judged in the run of `month`, or why there is none (the labels of
    its month are not in the source yet)."""
    return judge_list_month(warehouse, spec, judged_month(spec, month))


def left_unjudged(warehouse, spec, month: dt.date) -> list[JudgedList]:
    """The outcomes of the lists before the one the run of `month` judges that have matured but
    were never judged (the run that should have was blocked)."""
    last = add_months(judged_month(spec, month), -1)
    published = published_months(warehouse, spec.name, last)
    if not published:
        return []
    done = set(outcome_history(warehouse, spec.name, until=last)["month"])
    candidates = [m for m in month_range(published[0], last) if m not in done]
    judged = [judge_list_month(warehouse, spec, m) for m in candidates if no_list_to_judge(warehouse, spec, m) is None]
    return [j for j in judged if isinstance(j, JudgedList)]


def judge_list_month(warehouse, spec, judged: dt.date) -> JudgedList | str:
    """The outcome of the list in force during month `judged`, or why there is none yet."""
    list_month = list_in_force_month(warehouse, spec.name, add_months(judged, 1))
    labels = month_labels(
        warehouse, warehouse.relation_for(spec.source), spec.label, snapshot_table(spec.source.name), judged
    )
    if labels.empty:
        return (
            f"the labels of {judged} are not in the source yet (`{spec.label}` is NULL for every customer of "
            f"that month): its list is judged once they are"
        )
    labels = pd.DataFrame({"customer_id": labels["customer_id"], "label": spec.label_as_int(labels[spec.label])})
    scored = month_predictions(warehouse, spec.name, list_month)
    listed = published_list(warehouse, spec.name, list_month)
    frame = pd.DataFrame({"customer_id": scored.ids, "score": scored.scores}).merge(
        labels, on="customer_id", how="left"
    )
    outcome = list_outcome(frame["customer_id"], frame["score"], frame["label"].astype(float), listed["customer_id"])
    version = int(listed["model_version"].iloc[0]) if len(listed) else scored.model_version
    gate = realised_lift_gate(outcome, spec.gates.min_realised_lift, judged, list_month, version, spec.label)
    return JudgedList(judged, list_month, version, outcome, gate)


def store_outcome(warehouse, spec, month: dt.date, judged: JudgedList | None) -> None:
    """Replace the stored outcome of a list judged in the run of `month` (none: the outcome of the
    list of its horizon before is removed)."""
    key = {"model": spec.name, "month": judged.month if judged else judged_month(spec, month)}
    if judged is None:
        warehouse.replace_rows(LIST_OUTCOMES, key, pd.DataFrame())
        return
    figures = judged.outcome.as_dict()
    row = {
        **key,
        "list_month": judged.list_month,
        "evaluated_month": month,
        "model_version": judged.model_version,
        **{k: (np.nan if v is None else v) for k, v in figures.items()},
        "min_realised_lift": spec.gates.min_realised_lift,
        "passed": bool(judged.gate.passed),
        "evaluated_at": pd.Timestamp.now(tz="UTC"),
    }
    frame = pd.DataFrame([row])
    for column in ("precision", "base_rate", "lift", "recall", "auc"):
        frame[column] = frame[column].astype(float)
    warehouse.replace_rows(LIST_OUTCOMES, key, frame)

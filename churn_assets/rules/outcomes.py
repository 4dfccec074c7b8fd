"""What a published list achieved once its labels matured, and the `realised_lift` gate (pure
functions, no Dagster). The labels come from the source after the list was sent: never from
anything the model saw when it scored the list."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import roc_auc_score

from churn_assets.rules.gates import GateResult

REALISED_LIFT = "realised_lift"


@dataclass(frozen=True)
class ListOutcome:
    """A list's realised figures over the customers scored with it whose label is known."""

    listed: int
    """Customers on the list."""
    listed_with_label: int
    """Of them, customers whose label is known (a customer gone before the month has none)."""
    positives_listed: int
    precision: float | None
    scored_with_label: int
    """Every scored customer whose label is known: the population of base rate, recall and AUC."""
    positives: int
    base_rate: float | None
    lift: float | None
    """precision / base rate: how many times better than customers drawn at random."""
    recall: float | None
    """Share of all positives of the scored population that the list caught."""
    auc: float | None
    """ROC AUC of the scores over every scored customer with a label (None with one class only)."""

    def as_dict(self) -> dict:
        return asdict(self)


def list_outcome(scored_ids, scores, labels, listed_ids) -> ListOutcome:
    """The outcome of a list: `scored_ids`/`scores` every customer scored with it, `labels` their
    realised label (0/1; NaN where unknown), `listed_ids` the customers on the list."""
    ids = np.asarray(scored_ids)
    scores, labels = np.asarray(scores, dtype=float), np.asarray(labels, dtype=float)
    known = ~np.isnan(labels)
    on_list = np.isin(ids, np.asarray(listed_ids))
    listed_known = on_list & known
    positives = int(labels[known].sum())
    positives_listed = int(labels[listed_known].sum())
    precision = positives_listed / int(listed_known.sum()) if listed_known.any() else None
    base_rate = positives / int(known.sum()) if known.any() else None
    lift = precision / base_rate if precision is not None and base_rate else None
    auc = float(roc_auc_score(labels[known].astype(int), scores[known])) if 0 < positives < int(known.sum()) else None
    return ListOutcome(
        listed=len(np.unique(np.asarray(listed_ids))),
        listed_with_label=int(listed_known.sum()),
        positives_listed=positives_listed,
        precision=precision,
        scored_with_label=int(known.sum()),
        positives=positives,
        base_rate=base_rate,
        lift=lift,
        recall=positives_listed / positives if positives else None,
        auc=auc,
    )


def one_verdict(gates: list[GateResult]) -> GateResult:
    """The verdict of every list judged in one run (the list of its horizon before, and any earlier
    one left unjudged): failed when one failed, shown by the first failed list (else by the
    latest), the others named in the summary and under `also_judged`."""
    if len(gates) == 1:
        return gates[0]
    failed = [gate for gate in gates if not gate.passed]
    shown = failed[0] if failed else gates[-1]
    others = [gate for gate in gates if gate is not shown]
    return GateResult(
        shown.name,
        not failed,
        shown.value,
        shown.threshold,
        f"{shown.summary}. Also judged: " + "; ".join(gate.summary for gate in others),
        {**shown.details, "also_judged": {gate.details["month"]: gate.value for gate in others}},
    )


def realised_lift_gate(
    outcome: ListOutcome, threshold: float, month: dt.date, list_month: dt.date, version: int | None, label: str
) -> GateResult:
    """`realised_lift`: the list judged at `month` (the one published then, or in force when that
    month was blocked: `list_month`) found positives at least `threshold` times the base rate."""
    which = f"list of {list_month}" + (f" (in force at {month})" if list_month != month else "")
    which += f", model v{version}" if version is not None else ""

    def figure(value) -> str:
        return "—" if value is None else f"{value:.3f}"

    if outcome.lift is None:
        summary = (
            f"{which}: lift undefined ({outcome.positives} customers with `{label}` among "
            f"{outcome.scored_with_label} scored, {outcome.listed_with_label} listed with a known label)"
        )
    else:
        verdict = "at least" if outcome.lift >= threshold else "BELOW"
        summary = (
            f"{which}: {outcome.positives_listed} of {outcome.listed_with_label} listed customers had `{label}` "
            f"(precision {figure(outcome.precision)}), lift {outcome.lift:.2f} over the base rate "
            f"{figure(outcome.base_rate)}: {verdict} the required {threshold}; recall {figure(outcome.recall)}, "
            f"realised AUC {figure(outcome.auc)}"
        )
    return GateResult(
        REALISED_LIFT,
        outcome.lift is not None and outcome.lift >= threshold,
        None if outcome.lift is None else round(outcome.lift, 4),
        threshold,
        summary,
        {
            "month": str(month),
            "list_month": str(list_month),
            "model_version": version,
            **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in outcome.as_dict().items()},
        },
    )

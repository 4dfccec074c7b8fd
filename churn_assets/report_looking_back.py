"""The monthly report's looking-back sections: how earlier lists did once their labels matured,
and the features that moved most since last month (read from the warehouse tables
`list_outcomes` and `feature_drift`; reports.py places them on a published month's page)."""

from __future__ import annotations

import datetime as dt

from churn_assets import plots
from churn_assets.report_page import Image, Section, Strong, Table, paragraph
from churn_assets.rules.months import add_months
from churn_assets.warehouse.outcomes import month_drift, outcome_history, published_months


def looking_back_sections(warehouse, spec, month: dt.date) -> list[Section]:
    return [earlier_lists_section(warehouse, spec, month), drift_section(warehouse, spec, month)]


def _figure(value, digits: int = 3) -> str:
    return "—" if value is None or value != value else f"{value:.{digits}f}"  # NaN != NaN


def earlier_lists_section(warehouse, spec, month: dt.date) -> Section:
    """Lift and precision of every list judged by `month` (chart and table), and the lists whose
    labels have not matured yet, marked as such."""
    horizon, threshold = spec.horizon_months, spec.gates.min_realised_lift
    judged = outcome_history(warehouse, spec.name, until=add_months(month, -horizon))
    lead = paragraph(
        f"A list is judged once {spec.label} has matured for its month, {horizon} month(s) later: precision is "
        "the share of its customers with the label, the base rate that share among every scored customer, lift "
        f"their ratio (1 = no better than customers drawn at random; gate >= {threshold})."
    )
    blocks = [lead]
    if len(judged):
        blocks += [
            Image.from_markdown(plots.lift_over_time(judged, threshold)),
            Image.from_markdown(plots.precision_over_time(judged)),
        ]
    rows = []
    by_month = {row.month: row for row in judged.itertuples()}
    for listed in sorted(set(published_months(warehouse, spec.name, month)) | set(by_month)):
        row = by_month.get(listed)
        if row is None:
            matures = add_months(listed, horizon)
            status = (
                f"not matured yet: judged in the run of {matures}"
                if matures > month
                else "not judged yet (its month's run was blocked): judged by the next month's run"
            )
            rows.append((str(listed), "—", "—", "—", "—", "—", "—", "—", status))
            continue
        verdict = "passed" if row.passed else (Strong("BELOW THE GATE"),)
        in_force = "" if row.list_month == row.month else f" (list of {row.list_month} in force)"
        rows.append(
            (
                f"{row.month}{in_force}",
                f"v{int(row.model_version)}" if row.model_version == row.model_version else "—",
                f"{int(row.listed):,}",
                f"{int(row.positives_listed):,}",
                _figure(row.precision),
                _figure(row.base_rate),
                _figure(row.lift, 2),
                _figure(row.recall),
                verdict,
            )
        )
    header = ("month of the list", "version", "listed", "with the label", "precision", "base rate", "lift", "recall")
    blocks.append(Table((*header, "outcome"), rows) if rows else paragraph("No list has been published yet."))
    return Section("How earlier lists did", blocks)


def drift_section(warehouse, spec, month: dt.date) -> Section:
    """The five features that moved most between last month's snapshot and this month's."""
    drift, threshold = month_drift(warehouse, spec.name, month), spec.gates.max_feature_psi
    if drift.empty:
        return Section("Features that moved most", [paragraph("Not measured: no snapshot of the month before.")])
    rows = [
        (r.feature, r.kind, f"{r.psi:.3f}", (Strong("yes"),) if r.drifted else "no") for r in drift.head(5).itertuples()
    ]
    return Section(
        "Features that moved most",
        [
            paragraph(
                f"Population stability index of each feature against the snapshot of {add_months(month, -1)} "
                f"(< 0.1 stable, 0.1-0.25 moderate; gate <= {threshold}). The five largest:"
            ),
            Table(("feature", "kind", "PSI", "above the gate"), rows),
        ],
    )

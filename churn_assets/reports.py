"""The stakeholders' monthly report per model and month: an HTML page, the full list as CSV, and
the customers leaving the list. Written by the report asset for a published month, and by the
step that blocks a month (snapshot contract, business gates) for a month that is NOT PUBLISHED:
the report asset does not run when what it depends on is blocked, and stakeholders must still
see the month."""

import datetime as dt
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jinja2
import pandas as pd

from churn_assets import plots
from churn_assets.catalog import ModelSpec
from churn_assets.keys import snapshot_key
from churn_assets.reasons import REASON_COLUMNS, REASONS, reason_counts
from churn_assets.report_looking_back import looking_back_sections

# The page's content as data (report_page.py): this module decides what a month's page says.
from churn_assets.report_page import Image, Link, Page, Paragraph, Section, Strong, Table, paragraph
from churn_assets.rules.months import add_months
from churn_assets.warehouse import Warehouse, registry
from churn_assets.warehouse.lists import (
    VALUE_COLUMNS,
    gate_history,
    gates_asset,
    list_in_force_month,
    month_gates,
    month_gates_passed,
    month_predictions,
    published_list,
)


@dataclass(frozen=True)
class WrittenReport:
    html: Path
    list_csv: Path | None
    markdown: str


@dataclass(frozen=True)
class ReportContent:
    """A month's page, and for a published month its whole list and leaving customers."""

    page: Page
    full_list: pd.DataFrame | None = None
    leaving: pd.DataFrame | None = None

    @property
    def markdown(self) -> str:
        return to_markdown(self.page)


def write_report(warehouse: Warehouse, spec: ModelSpec, month: dt.date, reports_dir: Path) -> WrittenReport:
    """Write `<reports_dir>/<model>/<month>.html` (and, for a published month, `<month>.csv` with
    the whole list and `<month>-leaving.csv`), each replaced atomically."""
    folder = reports_dir / spec.name
    folder.mkdir(parents=True, exist_ok=True)
    content = report_content(warehouse, spec, month)
    list_csv = None
    if content.full_list is not None and len(content.full_list):
        list_csv = _replace(folder / f"{month}.csv", content.full_list.to_csv(index=False))
        _replace(folder / f"{month}-leaving.csv", content.leaving.to_csv(index=False))
    else:  # not published (any more): no list file may suggest otherwise
        for stale in (folder / f"{month}.csv", folder / f"{month}-leaving.csv"):
            stale.unlink(missing_ok=True)
    path = _replace(folder / f"{month}.html", to_html(f"{spec.name} — {month}", content.page))
    return WrittenReport(path, list_csv, content.markdown)


def _replace(path: Path, text: str) -> Path:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)  # readers never see a half-written file
    return path


def value_rows(full: pd.DataFrame, leaving: pd.DataFrame) -> list[tuple[str, str]]:
    """The list's value at risk, and that of the customers entering and leaving it (a model with a
    value column; the expected monthly loss is score x value)."""
    if "expected_loss" not in full.columns:
        return []
    entering = full[full["on_previous_list"] == "no"]
    left = f"{leaving['expected_loss'].sum():,.2f}" if "expected_loss" in leaving.columns else "—"
    return [
        ("monthly value of the listed customers", f"{full['value'].sum():,.2f}"),
        ("value at risk (expected monthly loss, score x value)", f"{full['expected_loss'].sum():,.2f}"),
        ("value at risk entering the list", f"{entering['expected_loss'].sum():,.2f}"),
        ("value at risk leaving the list (at last month's scores)", left),
    ]


def top_row(row) -> tuple:
    return (row.rank, row.customer_id, f"{row.score:.4f}", why(row))


def why(row) -> str:
    """A listed customer's reasons as a person reads them: `feature = value` (largest first)."""
    parts = []
    for i in range(1, REASONS + 1):
        feature = getattr(row, f"reason_{i}_feature", None)
        if isinstance(feature, str):
            parts.append(f"{feature} = {getattr(row, f'reason_{i}_value', None)}")
    return "; ".join(parts) or "—"


def list_changes(warehouse: Warehouse, spec: ModelSpec, month: dt.date, listed: pd.DataFrame, scored_ids):
    """The month's whole list with `on_previous_list` (yes: relisted; no: entering), and the
    customers of the list in force before it who are not on it any more (leaving), with their
    previous rank and whether they are still customers this month (among `scored_ids`)."""
    previous_month = list_in_force_month(warehouse, spec.name, month)
    previous = published_list(warehouse, spec.name, previous_month) if previous_month else listed.iloc[0:0]
    present = set(scored_ids.tolist())
    before = set(previous["customer_id"].tolist())
    now = set(listed["customer_id"].tolist())
    full = pd.DataFrame(
        {
            "rank": listed["rank"].astype("int64"),
            "customer_id": listed["customer_id"],
            "score": listed["score"].round(6),
            "model_version": listed["model_version"].astype("int64"),
            "on_previous_list": ["yes" if c in before else "no" for c in listed["customer_id"]],
            **{c: listed[c] for c in VALUE_COLUMNS if c in listed.columns},
            # Why each customer is listed (the champion's own contributions), where published with them.
            **{c: listed[c] for c in REASON_COLUMNS if c in listed.columns},
        }
    )
    gone = previous[~previous["customer_id"].isin(now)]
    leaving = pd.DataFrame(
        {
            "customer_id": gone["customer_id"],
            "previous_rank": gone["rank"].astype("int64"),
            "still_a_customer": ["yes" if c in present else "no" for c in gone["customer_id"]],
            **{c: gone[c] for c in VALUE_COLUMNS if c in gone.columns},
        }
    )
    return full, leaving


def when(value) -> str:
    """A timestamp as a person reads it: `2026-12-02 14:05 UTC`."""
    if value is None or pd.isna(value):
        return "—"
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.strftime("%Y-%m-%d %H:%M UTC")


def blocking_failures(warehouse: Warehouse, spec: ModelSpec, month: dt.date) -> pd.DataFrame:
    """The blocking gates that failed for the month: the snapshot's contract, or the business gates."""
    snapshot = "/".join(snapshot_key(spec.source.name).path)
    gates = month_gates(warehouse, [snapshot, gates_asset(spec.name)], month)
    failed = gates[~gates["passed"].astype(bool) & (gates["severity"] == "ERROR")]
    # A refused snapshot blocks the month whatever an earlier run recorded for its predictions.
    return failed[failed["asset"] == snapshot] if (failed["asset"] == snapshot).any() else failed


def blocked_page(warehouse: Warehouse, spec: ModelSpec, month: dt.date, failed: pd.DataFrame) -> Page:
    """The page of a month whose list was blocked: which gate, its value against its threshold, and
    the list the business keeps using."""
    in_force = list_in_force_month(warehouse, spec.name, month)
    lead = [
        paragraph(
            Strong("NOT PUBLISHED"),
            f": the list of {month} failed {len(failed)} blocking gate(s); nothing was sent to the business for "
            "this month.",
        ),
        Table(
            ("asset", "gate", "value", "threshold", "what failed"),
            [
                (g["asset"], g["gate"], _short(g["value"]), _short(g["threshold"]), g["summary"])
                for _, g in failed.iterrows()
            ],
        ),
    ]
    kept = (
        paragraph(
            f"The business keeps the list of {in_force}: ",
            Link("its report", f"{in_force}.html"),
            ", ",
            Link("the whole list as CSV", f"{in_force}.csv"),
            ".",
        )
        if in_force
        else paragraph("No list has been published yet: there is no list in force.")
    )
    return Page(f"{spec.name}: NOT PUBLISHED for {month}", [Section(None, lead), Section("List in force", [kept])])


def report_content(warehouse: Warehouse, spec: ModelSpec, month: dt.date) -> ReportContent:
    """The report's content (tables and embedded plots), each stored table read once."""
    failed = blocking_failures(warehouse, spec, month)
    if len(failed):
        return ReportContent(blocked_page(warehouse, spec, month, failed))
    if month_gates_passed(warehouse, spec.name, month) is None:
        return ReportContent(no_champion_page(warehouse, spec, month))
    listed = published_list(warehouse, spec.name, month)
    scored = month_predictions(warehouse, spec.name, month)
    scores = scored.scores
    gates = month_gates(
        warehouse, ["/".join(snapshot_key(spec.source.name).path), f"{spec.name}/model", gates_asset(spec.name)], month
    )
    full, leaving = list_changes(warehouse, spec, month, listed, scored.ids)
    summary = summary_table(warehouse, spec, listed, len(scores), gates, full, leaving)
    sections = [
        Section(None, [paragraph(spec.description), summary]),
        Section("Gates", [gates_table(gates)]),
        Section(
            "Score distribution",
            [Image.from_markdown(plots.score_histogram(scores)) if len(scores) else paragraph("no scores")],
        ),
        *overlap_over_time_sections(warehouse, spec, month),
        *looking_back_sections(warehouse, spec, month),
        *reasons_sections(full),
        *list_sections(month, full, leaving),
    ]
    page = Page(f"{spec.name}: monthly list for {month}", sections)
    return ReportContent(page, full, leaving)


def no_champion_page(warehouse: Warehouse, spec: ModelSpec, month: dt.date) -> Page:
    """The page of a month nobody was scored in (no champion in force), and the list in force after it."""
    in_force = list_in_force_month(warehouse, spec.name, add_months(month, 1))
    lead = [
        paragraph(
            Strong("NOT PUBLISHED"),
            ": no champion model was in force (no labelled month yet, or no version has passed its quality "
            "gates), so nobody was scored.",
        ),
        paragraph(f"List in force: {in_force or 'none'}."),
    ]
    return Page(f"{spec.name}: no list for {month}", [Section(None, lead)])


def summary_table(
    warehouse: Warehouse,
    spec: ModelSpec,
    listed: pd.DataFrame,
    scored: int,
    gates: pd.DataFrame,
    full: pd.DataFrame,
    leaving: pd.DataFrame,
) -> Table:
    """The published month at a glance: list size, overlap with the previous list, who enters and
    leaves, the model version, the value at risk and when the list was published."""
    version = int(listed["model_version"].iloc[0]) if len(listed) else None
    metrics = registry.version_metrics(warehouse, spec.name, version) if version is not None else {}
    overlap = gates[gates["gate"] == "top_k_overlap"]
    details = json.loads(overlap["details"].iloc[0]) if len(overlap) else {}
    overlap_value = json.loads(overlap["value"].iloc[0]) if len(overlap) else None
    return Table(
        ("", ""),
        [
            ("customers listed", f"{len(listed):,} (capacity {spec.gates.list_capacity:,})"),
            ("customers scored", f"{scored:,}"),
            (
                "overlap with the previous list",
                f"{_number(overlap_value)} (gate >= {spec.gates.min_top_k_overlap})",
            ),
            ("previous list", details.get("previous_month") or "none (first month)"),
            ("entering the list", _number(details.get("entering_list"))),
            ("leaving the list (still customers)", _number(details.get("leaving_list_still_present"))),
            ("rank correlation with last month", _number(details.get("rank_correlation"))),
            (
                "model version",
                f"v{version} (holdout AUC {_number(metrics.get('auc'))}, PR AUC {_number(metrics.get('pr_auc'))})",
            ),
            *value_rows(full, leaving),
            ("published at", when(listed["published_at"].iloc[0]) if len(listed) else "—"),
        ],
    )


def _number(value) -> str:
    """A count with thousands separators, a float with 3 decimals, `—` for none."""
    return "—" if value is None else (f"{value:,.3f}" if isinstance(value, float) else f"{value:,}")


def gates_table(gates: pd.DataFrame) -> Table:
    """Every gate of the month: its outcome (FAILED with its severity), value, threshold and details."""
    rows = [
        (
            g["asset"],
            g["gate"],
            "passed" if g["passed"] else (Strong("FAILED"), f" ({g['severity']})"),
            _short(g["value"]),
            _short(g["threshold"]),
            g["summary"],
        )
        for _, g in gates.iterrows()
    ]
    return Table(("asset", "gate", "outcome", "value", "threshold", "details"), rows)


def overlap_over_time_sections(warehouse: Warehouse, spec: ModelSpec, month: dt.date) -> list[Section]:
    """The overlap with the previous list month by month against its gate, once there are two months."""
    history = gate_history(warehouse, spec.name, "top_k_overlap", month)
    if len(history) < 2:
        return []
    chart = plots.overlap_over_time(
        [str(pd.Timestamp(m).date())[:7] for m in history["month"]],
        [float(json.loads(v)) for v in history["value"]],
        spec.gates.min_top_k_overlap,
    )
    return [Section("Overlap over time", [Image.from_markdown(chart)])]


def reasons_sections(full: pd.DataFrame) -> list[Section]:
    """The five reasons most often behind the list's customers, with their share of the list (none
    when the list was published without reasons)."""
    reasons = reason_counts(full[[c for c in REASON_COLUMNS if c in full.columns]])
    if not reasons:
        return []
    table = Table(
        ("share of the list", "reason (a feature raising the customer's score)"),
        [(f"{share:.0%}", feature) for feature, share in list(reasons.items())[:5]],
    )
    return [Section("Why customers are on this month's list", [table])]


def list_sections(month: dt.date, full: pd.DataFrame, leaving: pd.DataFrame) -> list[Section]:
    """Links to the whole list and the leaving customers as CSV, then the first 20 customers
    entering, leaving and at the top of the list."""
    entering = full[full["on_previous_list"] == "no"]
    ranked = ("rank", "customer_id", "score", "why")
    return [
        Section(
            "The whole list",
            [
                paragraph(
                    Link(f"All {len(full):,} customers as CSV", f"{month}.csv"),
                    " (rank, customer_id, score, model_version, on_previous_list, each customer's top reasons); ",
                    Link(f"the {len(leaving):,} customers leaving the list as CSV", f"{month}-leaving.csv"),
                    ".",
                )
            ],
        ),
        Section(
            f"Entering the list ({len(entering):,}; first 20 by rank)",
            [Table(ranked, [top_row(r) for r in entering.head(20).itertuples()])],
        ),
        Section(
            f"Leaving the list ({len(leaving):,}; first 20 by previous rank)",
            [
                Table(
                    ("previous rank", "customer_id", "still a customer"),
                    [
                        (r.previous_rank, r.customer_id, r.still_a_customer)
                        for r in leaving.sort_values("previous_rank").head(20).itertuples()
                    ],
                )
            ],
        ),
        Section(
            "Top 20 customers",
            [Table(ranked, [top_row(r) for r in full.head(20).itertuples()])],
        ),
    ]


def _short(stored: str) -> str:
    """A gate's stored JSON value as a person reads it: 4 decimals, ranges as min..max."""
    value = json.loads(stored) if stored else None
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, dict):
        return f"{_short(json.dumps(value.get('min')))}..{_short(json.dumps(value.get('max')))}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "—"
    return "—" if value is None else str(value)


@cache
def _templates() -> jinja2.Environment:
    # Autoescape: a customer id, a model name or a gate's summary is text, never markup.
    return jinja2.Environment(
        loader=jinja2.PackageLoader("churn_assets", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def to_html(title: str, page: Page) -> str:
    """The page as a self-contained HTML document (templates/monthly_report.html.j2)."""
    return _templates().get_template("monthly_report.html.j2").render(title=title, page=page)


def to_markdown(page: Page) -> str:
    """The page as markdown, for the report asset's metadata in the UI."""

    def part(p) -> str:
        if isinstance(p, Strong):
            return f"**{_md(p.text)}**"
        return f"[{_md(p.text)}]({p.href})" if isinstance(p, Link) else _md(p)

    def text(value) -> str:
        return "".join(part(p) for p in (value if isinstance(value, tuple) else (value,)))

    lines = [f"# {_md(page.heading)}"]
    for section in page.sections:
        if section.heading:
            lines += ["", f"## {_md(section.heading)}"]
        for block in section.blocks:
            lines.append("")
            if isinstance(block, Paragraph):
                lines.append(text(block.parts))
            elif isinstance(block, Image):
                lines.append(f"![{_md(block.alt)}]({block.src})")
            else:
                lines.append("| " + " | ".join(_md(h) for h in block.header) + " |")
                lines.append("|" + "---|" * len(block.header))
                lines += ["| " + " | ".join(text(cell) for cell in row) + " |" for row in block.rows]
    return "\n".join(lines)


def _md(value) -> str:
    # Values are text: markdown's own characters are escaped (a `|` in an id must not split a cell).
    return re.sub(r"([\\`*_\[\]<>|])", r"\\\1", str(value))

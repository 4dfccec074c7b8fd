"""The stakeholders' monthly report per model and month: an HTML page, the full list as CSV, and
the customers leaving the list. Written by the report asset for a published month, and by the
step that blocks a month (snapshot contract, business gates) for a month that is NOT PUBLISHED:
the report asset does not run when what it depends on is blocked, and stakeholders must still
see the month."""

import datetime as dt
import html
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from churn_assets import plots
from churn_assets.catalog import ModelSpec
from churn_assets.keys import snapshot_key
from churn_assets.rules.months import add_months
from churn_assets.warehouse import Warehouse, registry
from churn_assets.warehouse.lists import (
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
    """A month's page as markdown, and for a published month its whole list and leaving customers."""

    markdown: str
    full_list: pd.DataFrame | None = None
    leaving: pd.DataFrame | None = None


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
    path = _replace(folder / f"{month}.html", to_html(f"{spec.name} — {month}", content.markdown))
    return WrittenReport(path, list_csv, content.markdown)


def _replace(path: Path, text: str) -> Path:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)  # readers never see a half-written file
    return path


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
        }
    )
    gone = previous[~previous["customer_id"].isin(now)]
    leaving = pd.DataFrame(
        {
            "customer_id": gone["customer_id"],
            "previous_rank": gone["rank"].astype("int64"),
            "still_a_customer": ["yes" if c in present else "no" for c in gone["customer_id"]],
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


def blocked_markdown(warehouse: Warehouse, spec: ModelSpec, month: dt.date, failed: pd.DataFrame) -> str:
    """The page of a month whose list was blocked: which gate, its value against its threshold, and
    the list the business keeps using."""
    in_force = list_in_force_month(warehouse, spec.name, month)
    lines = [
        f"# {spec.name}: NOT PUBLISHED for {month}",
        "",
        f"**NOT PUBLISHED**: the list of {month} failed {len(failed)} blocking gate(s); nothing was sent to the "
        "business for this month.",
        "",
        "| asset | gate | value | threshold | what failed |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {g['asset']} | {g['gate']} | {_short(g['value'])} | {_short(g['threshold'])} | {g['summary']} |"
        for _, g in failed.iterrows()
    ]
    lines += [
        "",
        "## List in force",
        "",
        f"The business keeps the list of {in_force}: [its report]({in_force}.html), "
        f"[the whole list as CSV]({in_force}.csv)."
        if in_force
        else "No list has been published yet: there is no list in force.",
    ]
    return "\n".join(lines)


def report_content(warehouse: Warehouse, spec: ModelSpec, month: dt.date) -> ReportContent:
    """The report's content as markdown (tables and embedded plots), each stored table read once."""
    failed = blocking_failures(warehouse, spec, month)
    if len(failed):
        return ReportContent(blocked_markdown(warehouse, spec, month, failed))
    if month_gates_passed(warehouse, spec.name, month) is None:
        in_force = list_in_force_month(warehouse, spec.name, add_months(month, 1))
        return ReportContent(
            "\n".join(
                [
                    f"# {spec.name}: no list for {month}",
                    "",
                    "**NOT PUBLISHED**: no champion model was in force (no labelled month yet, or no version has "
                    "passed its quality gates), so nobody was scored.",
                    "",
                    f"List in force: {in_force or 'none'}.",
                ]
            )
        )
    listed = published_list(warehouse, spec.name, month)
    scored = month_predictions(warehouse, spec.name, month)
    scores = scored.scores
    version = int(listed["model_version"].iloc[0]) if len(listed) else None
    metrics = registry.version_metrics(warehouse, spec.name, version) if version is not None else {}
    gates = month_gates(
        warehouse, ["/".join(snapshot_key(spec.source.name).path), f"{spec.name}/model", gates_asset(spec.name)], month
    )
    overlap = gates[gates["gate"] == "top_k_overlap"]
    details = json.loads(overlap["details"].iloc[0]) if len(overlap) else {}
    history = gate_history(warehouse, spec.name, "top_k_overlap", month)

    def number(value) -> str:
        return "—" if value is None else (f"{value:,.3f}" if isinstance(value, float) else f"{value:,}")

    overlap_value = json.loads(overlap["value"].iloc[0]) if len(overlap) else None
    lines = [
        f"# {spec.name}: monthly list for {month}",
        "",
        spec.description,
        "",
        "| | |",
        "|---|---|",
        f"| customers listed | {len(listed):,} (capacity {spec.gates.list_capacity:,}) |",
        f"| customers scored | {len(scores):,} |",
        f"| overlap with the previous list | {number(overlap_value)} (gate >= {spec.gates.min_top_k_overlap}) |",
        f"| previous list | {details.get('previous_month') or 'none (first month)'} |",
        f"| entering the list | {number(details.get('entering_list'))} |",
        f"| leaving the list (still customers) | {number(details.get('leaving_list_still_present'))} |",
        f"| rank correlation with last month | {number(details.get('rank_correlation'))} |",
        f"| model version | v{version} (holdout AUC {number(metrics.get('auc'))}, PR AUC "
        f"{number(metrics.get('pr_auc'))}) |",
        f"| published at | {when(listed['published_at'].iloc[0]) if len(listed) else '—'} |",
        "",
        "## Gates",
        "",
        "| asset | gate | outcome | value | threshold | details |",
        "|---|---|---|---|---|---|",
    ]
    for _, g in gates.iterrows():
        outcome = "passed" if g["passed"] else f"**FAILED** ({g['severity']})"
        lines.append(
            f"| {g['asset']} | {g['gate']} | {outcome} | {_short(g['value'])} | {_short(g['threshold'])} | "
            f"{g['summary']} |"
        )
    lines += ["", "## Score distribution", "", plots.score_histogram(scores) if len(scores) else "no scores", ""]
    if len(history) >= 2:
        lines += [
            "## Overlap over time",
            "",
            plots.overlap_over_time(
                [str(pd.Timestamp(m).date())[:7] for m in history["month"]],
                [float(json.loads(v)) for v in history["value"]],
                spec.gates.min_top_k_overlap,
            ),
            "",
        ]
    full, leaving = list_changes(warehouse, spec, month, listed, scored.ids)
    entering = full[full["on_previous_list"] == "no"]
    lines += [
        "## The whole list",
        "",
        f"[All {len(full):,} customers as CSV]({month}.csv) (rank, customer_id, score, model_version, "
        f"on_previous_list); [the {len(leaving):,} customers leaving the list as CSV]({month}-leaving.csv).",
        "",
        f"## Entering the list ({len(entering):,}; first 20 by rank)",
        "",
        "| rank | customer_id | score |",
        "|---|---|---|",
    ]
    lines += [f"| {r.rank} | {r.customer_id} | {r.score:.4f} |" for r in entering.head(20).itertuples()]
    lines += [
        "",
        f"## Leaving the list ({len(leaving):,}; first 20 by previous rank)",
        "",
        "| previous rank | customer_id | still a customer |",
        "|---|---|---|",
    ]
    lines += [
        f"| {r.previous_rank} | {r.customer_id} | {r.still_a_customer} |"
        for r in leaving.sort_values("previous_rank").head(20).itertuples()
    ]
    lines += ["", "## Top 20 customers", "", "| rank | customer_id | score |", "|---|---|---|"]
    lines += [f"| {r.rank} | {r.customer_id} | {r.score:.4f} |" for r in listed.head(20).itertuples()]
    return ReportContent("\n".join(lines), full, leaving)


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


def to_html(title: str, markdown: str) -> str:
    """A self-contained HTML page from the report's markdown (tables, headings, embedded images)."""
    body, table = [], []

    def flush_table():
        if not table:
            return
        rows = [r for r in table if not re.fullmatch(r"\|[-|\s]+\|", r)]
        cells = [[c.strip() for c in r.strip("|").split("|")] for r in rows]
        body.append(
            "<table>"
            + "".join(
                "<tr>"
                + "".join(f"<{'th' if i == 0 else 'td'}>{_inline(c)}</{'th' if i == 0 else 'td'}>" for c in row)
                + "</tr>"
                for i, row in enumerate(cells)
            )
            + "</table>"
        )
        table.clear()

    for line in markdown.splitlines():
        if line.startswith("|"):
            table.append(line)
            continue
        flush_table()
        if line.startswith("## "):
            body.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.startswith("# "):
            body.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.strip():
            body.append(f"<p>{_inline(line)}</p>")
    flush_table()
    style = (
        "body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
        "th{background:#f3f3f3}img{max-width:100%}"
    )
    head = f"<meta charset='utf-8'><title>{html.escape(title)}</title><style>{style}</style>"
    return f"<!doctype html><html><head>{head}</head><body>{''.join(body)}</body></html>"


def _inline(text: str) -> str:
    image = re.fullmatch(r"!\[(.*?)\]\((data:image/(?:png|svg\+xml);base64,[A-Za-z0-9+/=]+)\)", text.strip())
    if image:
        return f"<img alt='{html.escape(image.group(1))}' src='{image.group(2)}'>"
    escaped = html.escape(text)
    escaped = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", escaped)
    # Links to the report's own files (relative names only: a report never links elsewhere).
    return re.sub(r"\[([^\]]+)\]\(([\w.-]+)\)", r"<a href='\2'>\1</a>", escaped)

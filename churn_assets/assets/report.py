"""The stakeholders' monthly report: what they used to check by hand in Excel, per model."""

import datetime as dt
import html
import json
import re
from pathlib import Path

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    asset,
)

from churn_assets import plots
from churn_assets.assets.common import model_key, partition_month, snapshot_key
from churn_assets.assets.retries import WAREHOUSE_RETRY, fail_fast_unless_transient
from churn_assets.catalog import ModelSpec
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


def build_report_asset(spec: ModelSpec, partitions_def: PartitionsDefinition, reports_dir: Path) -> AssetsDefinition:
    """A self-contained HTML report per model and month, also shown as markdown in the UI."""

    @asset(
        key=model_key(spec.name, "monthly_report"),
        group_name=spec.name,
        partitions_def=partitions_def,
        retry_policy=WAREHOUSE_RETRY,
        deps=[model_key(spec.name, "published_predictions")],
        kinds={"html"},
        owners=list(spec.owners),
        description=f"The `{spec.name}` monthly report for stakeholders: list size, overlap with last month, customers "
        "entering and leaving the list, score distribution, every gate's outcome, model version and metrics. "
        f"Written to `{reports_dir}/{spec.name}/<month>.html`.",
    )
    @fail_fast_unless_transient
    def monthly_report(context: AssetExecutionContext, warehouse: Warehouse):
        month = partition_month(context)
        markdown = report_markdown(warehouse, spec, month)
        path = reports_dir / spec.name / f"{month}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".html.tmp")
        tmp.write_text(to_html(f"{spec.name} — {month}", markdown))
        tmp.replace(path)  # readers never see a half-written report
        context.log.info(f"Report written to {path}")
        return MaterializeResult(metadata={"path": MetadataValue.path(str(path)), "report": MetadataValue.md(markdown)})

    return monthly_report


def report_markdown(warehouse: Warehouse, spec: ModelSpec, month: dt.date) -> str:
    """The report's content as markdown (tables and embedded plots)."""
    if month_gates_passed(warehouse, spec.name, month) is None:
        in_force = list_in_force_month(warehouse, spec.name, add_months(month, 1))
        return "\n".join(
            [
                f"# {spec.name}: no list for {month}",
                "",
                "**NOT PUBLISHED**: no champion model was in force (no labelled month yet, or no version has "
                "passed its quality gates), so nobody was scored.",
                "",
                f"List in force: {in_force or 'none'}.",
            ]
        )
    listed = published_list(warehouse, spec.name, month)
    scores = month_predictions(warehouse, spec.name, month).scores
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
        f"| published at | {listed['published_at'].iloc[0] if len(listed) else '—'} |",
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
    lines += ["## Top 20 customers", "", "| rank | customer_id | score |", "|---|---|---|"]
    lines += [f"| {r.rank} | {r.customer_id} | {r.score:.4f} |" for r in listed.head(20).itertuples()]
    return "\n".join(lines)


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
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", escaped)

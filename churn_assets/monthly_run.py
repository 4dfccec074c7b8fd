"""Materialise months in order through a Dagster instance, and summarise what each month did.

Used by `churn-assets run` (and so `make run`): each month is one Dagster run of the
all-models job, recorded in the instance, so the UI shows the same history.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from dagster import AssetKey, DagsterInstance

from churn_assets.catalog import Catalog, ModelSpec
from churn_assets.definitions import ALL_MODELS_JOB, build_definitions
from churn_assets.environment import Environment, reports_dir
from churn_assets.errors import error_line
from churn_assets.keys import model_key, snapshot_key
from churn_assets.rules.months import add_months, last_completed_month, month_range, training_months
from churn_assets.run_guard import fail_abandoned_runs, month_lock, process_tags, refuse_if_held
from churn_assets.tags import ENV_TAG
from churn_assets.warehouse.files import FileSourceError, ensure_loaded

STAGES = (
    "training_set",
    "model",
    "predictions",
    "published_predictions",
    "list_outcome",
    "feature_drift",
    "monthly_report",
)


@dataclass
class ModelMonth:
    """What one model did in one month."""

    model: str
    source: str
    status: str = "skipped"
    version: int | None = None
    auc: float | None = None
    scored: int | None = None
    overlap: float | None = None
    published: int | None = None
    failed_checks: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class MonthOutcome:
    month: dt.date
    run_id: str
    success: bool
    elapsed: float = 0.0
    """Seconds since the first month started, when this month ended (progress)."""
    snapshot_rows: dict[str, int] = field(default_factory=dict)
    contract: dict[str, bool] = field(default_factory=dict)
    models: list[ModelMonth] = field(default_factory=list)


@dataclass
class RunReport:
    months: list[MonthOutcome]

    @property
    def all_succeeded(self) -> bool:
        return all(m.success for m in self.months)


def source_months(
    environment: Environment, catalog: Catalog, source, between: tuple[dt.date, dt.date] | None = None
) -> list[dt.date]:
    """Months present in a source, all or `between` two months (ValueError naming the relation if it
    cannot be read). With a range the warehouse reads only those months: a 4M-customer source of
    five months took 5.7 s to scan whole."""
    relation = environment.warehouse.relation_for(source)
    where, params = ("WHERE snapshot_month BETWEEN ? AND ?", list(between)) if between else ("", [])
    try:
        if source.files:
            ensure_loaded(environment.warehouse, catalog, source)
        frame = environment.warehouse.query(
            f"SELECT DISTINCT snapshot_month FROM {relation} {where} ORDER BY 1", params
        )
    except FileSourceError:
        raise
    except Exception as exc:  # noqa: BLE001 - engines raise their own types; the message is what helps
        first_line = str(exc).strip().splitlines()[0]
        hint = f"check that {relation} exists and that CHURN_ENV={environment.name} can read it" + (
            " (the local sample business is created by `churn-assets seed`)" if environment.name == "local" else ""
        )
        raise ValueError(f"cannot read source {relation} ({first_line}); {hint}") from None
    return [pd.Timestamp(v).date() for v in frame["snapshot_month"]]


def run_months(
    catalog: Catalog,
    environment: Environment,
    instance: DagsterInstance,
    models: list[str],
    first: dt.date | None = None,
    last: dt.date | None = None,
    force_snapshot: bool = False,
    verbose: bool = False,
    echo: Callable[[str], None] = print,
) -> RunReport:
    """Run every month from `first` to `last` in order for `models`; print a line per model and month."""
    job = build_definitions(catalog, environment).resolve_job_def(ALL_MODELS_JOB)
    specs = [catalog.models[name] for name in models]
    sources = {spec.source.name: spec.source for spec in specs}
    months, available = months_to_run(catalog, environment, specs, first, last)

    for line in fail_abandoned_runs(instance):
        echo(line)
    for month in months:  # refused before the first month runs, not half-way
        refuse_if_held(instance, month, environment.name)
    echo(f"Running {len(months)} months ({months[0]} .. {months[-1]}) for {', '.join(models)} in {environment.name}")
    echo(_header())
    run_config: dict[str, Any] = {}
    if not verbose:
        # The summary line says what failed; the full event log stays in the instance (UI).
        run_config["loggers"] = {"console": {"config": {"log_level": "CRITICAL"}}}
    if force_snapshot:
        run_config["ops"] = {snapshot_key(n).to_python_identifier(): {"config": {"force": True}} for n in sources}
    outcomes, started = [], time.monotonic()
    for index, month in enumerate(months, start=1):
        with month_lock(Path(instance.root_directory), month, instance, environment.name):
            result = run_month(job, instance, environment, specs, month, available, run_config)
        outcome = summarise(result, month, specs, sources, available)
        outcome.elapsed = time.monotonic() - started
        outcomes.append(outcome)
        for line in format_month(outcome, index, len(months)):
            echo(line)

    echo("")
    echo(f"{sum(m.success for m in outcomes)}/{len(outcomes)} monthly runs succeeded.")
    for line in where_to_look(environment, instance, specs):
        echo(line)
    return RunReport(outcomes)


def run_month(job, instance, environment: Environment, specs: list[ModelSpec], month: dt.date, available, run_config):
    """One month in this process, recorded in the instance: every asset, as a backfill does (a month
    with nothing to train or score materialises saying so: the next month depends on it). A gate
    that blocks the month skips its list outcome too (downstream of the month's list in the graph):
    the next month's run judges the list it would have judged (outcomes.left_unjudged)."""
    selection = [snapshot_key(name) for name in {spec.source.name for spec in specs}]
    selection += [model_key(spec.name, stage) for spec in specs for stage in STAGES]
    tags = {"churn/month": month.isoformat(), ENV_TAG: environment.name, **process_tags()}
    return month_job(job, selection, specs, month, available).execute_in_process(
        partition_key=month.isoformat(),
        instance=instance,
        run_config=run_config,
        raise_on_error=False,
        tags={**tags, "churn/trigger": "churn-assets run"},
    )


def months_to_run(
    catalog: Catalog, environment: Environment, specs: list[ModelSpec], first: dt.date | None, last: dt.date | None
) -> tuple[list[dt.date], dict[str, list[dt.date]]]:
    """The months to run, and the months each source holds (ValueError when there is none): with a
    range, every month in it (a month the source lacks fails its contract: never skipped silently)."""
    sources = {spec.source.name: spec.source for spec in specs}
    # With an explicit range, only the months it needs: the range and the training windows before it.
    lookback = max(spec.horizon_months + spec.training_window_months - 1 for spec in specs)
    between = (add_months(first, -lookback), last) if first and last else None
    available = {name: source_months(environment, catalog, source, between) for name, source in sources.items()}
    present = sorted({m for ms in available.values() for m in ms})
    if not present and not (first and last):
        names = ", ".join(source.relation or str(source.files) for source in sources.values())
        hint = "; the local sample business is created by `churn-assets seed`" if environment.name == "local" else ""
        raise ValueError(f"the source ({names}) holds no month yet{hint}")
    lo, hi = first or present[0], last or present[-1]
    newest_allowed = last_completed_month()
    months = [m for m in month_range(lo, hi) if catalog.partitions_start <= m <= newest_allowed]
    if not months:
        raise ValueError(
            f"no month to run between {lo} and {hi}: partitions run from {catalog.partitions_start} "
            f"to the last completed month {newest_allowed}"
        )
    return months, available


def where_to_look(environment: Environment, instance: DagsterInstance, specs: list[ModelSpec]) -> list[str]:
    """Where the lists, the reports and the run history are, after a run."""
    lines = [f"Published lists: table {environment.warehouse.table('published_predictions')} in {_where(environment)}"]
    if environment.name == "local":
        lines.append(
            '  e.g. churn-assets sql "SELECT model, month, count(*) FROM churn.published_predictions GROUP BY ALL '
            'ORDER BY 1, 2"'
        )
    for spec in specs:
        reports = sorted((reports_dir() / spec.name).glob("*.html"))  # an absent folder globs to nothing
        if reports:
            lines.append(f"Monthly report ({spec.name}, latest): {reports[-1]}")
    lines.append(f"Dagster instance (run history): {instance.root_directory}")
    lines.append("Open the UI (lineage, checks, runs): make ui  ->  http://127.0.0.1:3000")
    return lines


def month_job(job, selection: list[AssetKey], specs: list[ModelSpec], month: dt.date, available: dict):
    """The job of one month: `selection`, with the gates of models that cannot have a list this month
    (no labelled month in their training window yet) left out. Dagster records a selected gate that
    gives no result as SKIPPED, and its UI shows a gate as "Skipped" while any month says so, however
    many months passed since: a gate that cannot run is not planned instead ("Missing" for the month).
    So are a list outcome's gate before any list can have matured, and feature drift's in the
    source's first month."""
    no_list = {
        model_key(spec.name, stage)
        for spec in specs
        if not has_labelled_history(spec, month, available[spec.source.name])
        for stage in ("model", "predictions")
    }
    # Looking back, the same way: no list to judge yet (none could exist `horizon` months before),
    # no month before to measure drift against.
    no_list |= {
        model_key(spec.name, "list_outcome")
        for spec in specs
        if not has_labelled_history(spec, add_months(month, -spec.horizon_months), available[spec.source.name])
    }
    no_list |= {
        model_key(spec.name, "feature_drift")
        for spec in specs
        if add_months(month, -1) not in available[spec.source.name]
    }
    checks = {key for key in job.asset_layer.asset_graph.asset_check_keys if key.asset_key in set(selection) - no_list}
    return job.get_subset(asset_selection=set(selection), asset_check_selection=checks)


def _where(environment: Environment) -> str:
    return getattr(environment.warehouse, "database", environment.name)


def has_labelled_history(spec: ModelSpec, month: dt.date, available: list[dt.date]) -> bool:
    """Whether the source holds a month of the model's training window at `month` (for the summary
    of a month whose snapshot was refused, so its training set did not run to say)."""
    return any(m in available for m in training_months(month, spec.horizon_months, spec.training_window_months))


def summarise(
    result, month: dt.date, specs: list[ModelSpec], sources: dict, sources_months: dict[str, list[dt.date]]
) -> MonthOutcome:
    """Read a run's materialisations, check evaluations and failures into a MonthOutcome."""
    materialised: dict[AssetKey, dict[str, Any]] = {}
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        materialised[mat.asset_key] = {k: v.value for k, v in mat.metadata.items()}
    checks = {(e.asset_key, e.check_name): e for e in result.get_asset_check_evaluations()}
    failures = {}
    for event in result.get_step_failure_events():
        failures[event.step_key] = error_line(event.event_specific_data.error)

    outcome = MonthOutcome(month=month, run_id=result.run_id, success=result.success)
    for name in sources:
        key = snapshot_key(name)
        outcome.snapshot_rows[name] = materialised.get(key, {}).get("rows")
        check = checks.get((key, "data_contract"))
        outcome.contract[name] = None if check is None else check.passed
    for spec in specs:
        outcome.models.append(_model_month(spec, month, sources_months, materialised, checks, failures))
    return outcome


def _model_month(
    spec: ModelSpec,
    month: dt.date,
    sources_months: dict[str, list[dt.date]],
    materialised: dict[AssetKey, dict[str, Any]],
    checks: dict,
    failures: dict[str, str],
) -> ModelMonth:
    """What one model did in the run: its version, scores, list and status line."""
    row = ModelMonth(model=spec.name, source=spec.source.name)
    source_failure = _failed_checks(checks, {snapshot_key(spec.source.name)}) or [
        msg for step, msg in failures.items() if step.startswith(spec.source.name + "__")
    ]
    labelled = materialised.get(model_key(spec.name, "training_set"), {}).get("labelled")
    if labelled is False or (
        labelled is None and source_failure and not has_labelled_history(spec, month, sources_months[spec.source.name])
    ):
        # Nothing to train yet: the month only takes its snapshot, if its contract lets it.
        row.failed_checks = _failed_checks(checks, {snapshot_key(spec.source.name)})
        row.status = (
            "snapshot NOT stored: " + "; ".join(source_failure)
            if source_failure
            else "snapshot only: no labelled month yet"
        )
        return row
    model_md = materialised.get(model_key(spec.name, "model"), {})
    row.version, row.auc = model_md.get("version"), model_md.get("auc")
    row.scored = materialised.get(model_key(spec.name, "predictions"), {}).get("rows_scored")
    published = materialised.get(model_key(spec.name, "published_predictions"), {})
    row.published = published.get("rows") if published.get("published") else None
    overlap = checks.get((model_key(spec.name, "predictions"), "top_k_overlap"))
    row.overlap = overlap.metadata["value"].value if overlap is not None and "value" in overlap.metadata else None
    row.failed_checks = _failed_checks(checks, _keys_of(spec))
    errors = [
        msg
        for step, msg in failures.items()
        if step.startswith(spec.name + "__") or step.startswith(spec.source.name + "__")
    ]
    row.error = errors[0] if errors else None
    row.status = _publication_status(row, materialised.get(model_key(spec.name, "predictions"), {}).get("reason"))
    return row


def _publication_status(row: ModelMonth, nothing_scored: str | None) -> str:
    """Published (with a warning if a check failed), or NOT published and why: the reason nobody
    was scored, the failed checks, the step's error, or an upstream failure."""
    if nothing_scored and not row.error:
        because = f" ({', '.join(row.failed_checks)})" if row.failed_checks else ""
        return "NOT published: " + nothing_scored.split(":")[0] + because
    if row.published is not None:
        return "published" if not row.failed_checks else "published (warning: " + ", ".join(row.failed_checks) + ")"
    return "NOT published: " + (", ".join(row.failed_checks) or row.error or "upstream failed")


def _failed_checks(checks: dict, keys: set[AssetKey]) -> list[str]:
    """`asset:check (what failed)` for every failed check of `keys`: the summary line says why."""
    return [
        f"{'/'.join(key.path)}:{name}" + (f" ({evaluation.description})" if evaluation.description else "")
        for (key, name), evaluation in checks.items()
        if not evaluation.passed and key in keys
    ]


def _keys_of(spec: ModelSpec) -> set[AssetKey]:
    return {snapshot_key(spec.source.name)} | {model_key(spec.name, s) for s in STAGES}


_COLUMNS = "{:<10}  {:<7}  {:>7}  {:<10}  {:>9}  {:>8}  {:>7}  {:>6}  {:>9}  {:>7}  {:>9}  {}"


def _header() -> str:
    return _COLUMNS.format(
        "month",
        "run",
        "elapsed",
        "model",
        "snapshot",
        "contract",
        "version",
        "AUC",
        "scored",
        "overlap",
        "published",
        "status",
    )


def format_month(outcome: MonthOutcome, index: int, total: int) -> list[str]:
    lines = []
    for row in outcome.models:
        contract = outcome.contract.get(row.source)
        lines.append(
            _COLUMNS.format(
                str(outcome.month),
                f"{index}/{total}",
                _duration(outcome.elapsed),
                row.model,
                _fmt(outcome.snapshot_rows.get(row.source)),
                {True: "passed", False: "FAILED", None: "-"}[contract],
                f"v{row.version}" if row.version else "-",
                f"{row.auc:.3f}" if row.auc is not None else "-",
                _fmt(row.scored),
                f"{row.overlap:.2f}" if row.overlap is not None else "-",
                _fmt(row.published),
                row.status,
            )
        )
    return lines


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


def _fmt(value) -> str:
    return f"{int(value):,}" if value is not None else "-"

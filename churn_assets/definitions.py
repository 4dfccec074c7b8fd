"""Builds the code location's Definitions from the model catalogue and the environment."""

from __future__ import annotations

import inspect
import os
import warnings
from pathlib import Path

from dagster import (
    AssetsDefinition,
    AssetSelection,
    BetaWarning,
    CodeReferencesMetadataValue,
    DefaultScheduleStatus,
    Definitions,
    MonthlyPartitionsDefinition,
    PreviewWarning,
    build_schedule_from_partitioned_job,
    define_asset_job,
    in_process_executor,
    multiprocess_executor,
)

from churn_assets.alerts import build_alert_sensors, notifier_from_environment
from churn_assets.assets.drift import build_feature_drift_asset
from churn_assets.assets.model import build_model_asset
from churn_assets.assets.outcome import build_list_outcome_asset
from churn_assets.assets.predictions import build_predictions_asset
from churn_assets.assets.published import build_published_asset
from churn_assets.assets.report import build_report_asset
from churn_assets.assets.snapshot import build_snapshot_asset
from churn_assets.assets.training import build_training_set_asset
from churn_assets.catalog import Catalog, CatalogError, ModelSpec, check_against_source, load_catalog
from churn_assets.code_references import code_reference
from churn_assets.environment import Environment, load_environment, reports_dir
from churn_assets.keys import snapshot_key
from churn_assets.tags import ENV_TAG
from churn_assets.warehouse.snapshots import known_source_columns

ALL_MODELS_JOB = "all_models_monthly"

# Source-code references are a beta API and partitioned check specs a preview one; both work, and
# their warnings would print on every load.
warnings.filterwarnings("ignore", category=BetaWarning)
warnings.filterwarnings("ignore", category=PreviewWarning)


def model_job_name(model: str) -> str:
    return f"{model}_monthly"


def build_definitions(catalog: Catalog | None = None, environment: Environment | None = None) -> Definitions:
    """Every asset, job and schedule for every model of the catalogue, wired to one environment."""
    catalog = catalog or load_catalog()
    environment = environment or load_environment()
    if environment.check_sources_at_load:
        check_sources(catalog, environment)
    kind = environment.warehouse_kind
    # Partition key = first day of the month; the last partition is the last completed month.
    months = MonthlyPartitionsDefinition(start_date=catalog.partitions_start.isoformat())

    reports = reports_dir()
    assets = [build_snapshot_asset(catalog, source, months, kind, reports) for source in catalog.sources.values()]
    jobs = []
    for spec in catalog.models.values():
        assets += model_assets(spec, months, kind, reports)
        jobs.append(model_job(spec, environment))
    all_models = define_asset_job(
        ALL_MODELS_JOB,
        selection=AssetSelection.all(),
        description="Every model of the catalogue for one month; sources are snapshotted once.",
        tags={ENV_TAG: environment.name},
    )
    return Definitions(
        assets=with_code_references(assets),
        jobs=[all_models, *jobs],
        schedules=[monthly_schedule(all_models, environment)],
        sensors=build_alert_sensors(
            {source: [m.name for m in catalog.models_of_source(source)] for source in catalog.sources},
            {ALL_MODELS_JOB, *(job.name for job in jobs)},
            {key for asset in assets for key in asset.keys},
            environment.name,
        ),
        resources={"warehouse": environment.warehouse, "alerts": notifier_from_environment()},
        # One DuckDB file takes one writing process at a time: run steps in-process locally.
        executor=in_process_executor if environment.warehouse_kind == "duckdb" else multiprocess_executor,
    )


def model_assets(
    spec: ModelSpec, months: MonthlyPartitionsDefinition, kind: str, reports: Path
) -> list[AssetsDefinition]:
    """A model's monthly assets after its source's snapshot, from training set to report."""
    return [
        build_training_set_asset(spec, months, kind),
        build_model_asset(spec, months),
        build_predictions_asset(spec, months, kind, reports),
        build_published_asset(spec, months, kind),
        # Looking back (warn, never block): the list of `horizon` months before against its
        # matured labels, and every feature against last month's snapshot.
        build_list_outcome_asset(spec, months, kind),
        build_feature_drift_asset(spec, months, kind),
        build_report_asset(spec, months, reports),
    ]


def model_job(spec: ModelSpec, environment: Environment):
    """The job running one model's month: its assets and its source's snapshot."""
    return define_asset_job(
        model_job_name(spec.name),
        selection=AssetSelection.groups(spec.name) | AssetSelection.assets(snapshot_key(spec.source.name)),
        description=f"The monthly life of `{spec.name}`: snapshot, train, score, gate, publish.",
        tags={"churn/model": spec.name, ENV_TAG: environment.name},
    )


def monthly_schedule(all_models, environment: Environment):
    """Every model for the month that just ended, on the 2nd of each month (stopped unless the
    environment runs its schedules)."""
    return build_schedule_from_partitioned_job(
        all_models,
        name="monthly_last_completed_month",
        description="On the 2nd of each month at 06:00 UTC, runs every model for the month that just ended.",
        day_of_month=2,
        hour_of_day=6,
        default_status=DefaultScheduleStatus.RUNNING
        if environment.schedules_running
        else DefaultScheduleStatus.STOPPED,
    )


def with_code_references(assets: list[AssetsDefinition]) -> list[AssetsDefinition]:
    """Link each asset to its function's source in the UI, as `dagster.with_source_code_references`
    does, but (1) through the retry wrapper to the asset's own module (Dagster's reads the file
    name of the wrapper and the line of the wrapped function), and (2) reading each function's
    position once: every model's assets share the six factory functions' code, and reading a
    function's source lines tokenizes it (0.33 s of a 30-model load). In a deployed image the
    reference is the file at the deployed commit in the repository (code_references.py)."""
    positions: dict = {}
    linked = []
    for asset in assets:
        function = inspect.unwrap(asset.op.compute_fn.decorated_fn)
        if function.__code__ not in positions:
            positions[function.__code__] = code_reference(
                os.path.abspath(inspect.getsourcefile(function)), inspect.getsourcelines(function)[1]
            )
        references = {
            "dagster/code_references": CodeReferencesMetadataValue(code_references=[positions[function.__code__]])
        }
        linked.append(
            asset.map_asset_specs(
                lambda spec, extra=references: spec.replace_attributes(metadata={**spec.metadata, **extra})
            )
        )
    return linked


def check_sources(catalog: Catalog, environment: Environment, types: bool = False) -> list[str]:
    """Refuse a catalogue naming columns its sources do not have (CatalogError names file, model and
    key); with `types`, also values that do not fit the columns' types (`churn-assets check`).

    File sources are read from their files when `types` is set (no warehouse needed). A source
    that does not exist yet (not seeded, not loaded) cannot be checked: it is returned as a line
    saying so, and a warehouse that does not exist yet is not created by this check."""
    from churn_assets.warehouse.files import read_source_files

    unchecked = []
    for source in catalog.sources.values():
        if types and source.files:
            frame = read_source_files(catalog, source)
            check_against_source(
                catalog, source.name, set(frame.columns), set(frame.columns), {c.lower(): frame[c] for c in frame}
            )
            continue
        relation = environment.warehouse.relation_for(source)
        if not environment.warehouse.exists():
            unchecked.append(f"source '{source.name}' ({relation}): not checked, the warehouse does not exist yet")
            continue
        known = known_source_columns(environment.warehouse, source)
        if known is None:
            unchecked.append(f"source '{source.name}' ({relation}): not checked, it does not exist in the warehouse")
            continue
        if not known[1] and not source.files:
            # Snapshots were taken, but the relation itself is gone: say so, not "label not in source".
            raise CatalogError(
                f"{catalog.path}: source '{source.name}', key 'relation': {relation} does not exist in the warehouse "
                "(or this role cannot read it); its last snapshot is there, the relation is not"
            )
        sample = source_sample(environment, catalog, source, relation, known[1]) if types and known[1] else None
        check_against_source(catalog, source.name, *known, sample=sample)
    return unchecked


def source_sample(environment: Environment, catalog: Catalog, source, relation: str, live_columns) -> dict:
    """Some values of every column of a live relation (lower-case names), for type checks: the
    first rows, and for each label the first rows where it is known (recent labels are NULL)."""
    warehouse = environment.warehouse
    frame = warehouse.query(f"SELECT * FROM {relation} LIMIT 5000")
    sample = {str(c).lower(): frame[c] for c in frame.columns}
    live = {c.lower(): c for c in live_columns}
    for label in catalog.label_columns(source.name):
        if label.lower() in live:
            column = live[label.lower()]
            values = warehouse.query(f"SELECT {column} AS v FROM {relation} WHERE {column} IS NOT NULL LIMIT 5000")
            sample[label.lower()] = values["v"]
    return sample

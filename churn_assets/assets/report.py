"""The stakeholders' monthly report: what they used to check by hand in Excel, per model."""

from pathlib import Path

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    asset,
)

from churn_assets.assets.common import model_key, partition_month
from churn_assets.assets.retries import WAREHOUSE_RETRY, fail_fast_unless_transient
from churn_assets.catalog import ModelSpec
from churn_assets.reports import write_report
from churn_assets.warehouse import Warehouse


def build_report_asset(spec: ModelSpec, partitions_def: PartitionsDefinition, reports_dir: Path) -> AssetsDefinition:
    """A self-contained HTML report per model and month, also shown as markdown in the UI."""

    @asset(
        key=model_key(spec.name, "monthly_report"),
        group_name=spec.name,
        partitions_def=partitions_def,
        retry_policy=WAREHOUSE_RETRY,
        # The looking-back assets of the month first: the page shows their latest figures.
        deps=[
            model_key(spec.name, "published_predictions"),
            model_key(spec.name, "list_outcome"),
            model_key(spec.name, "feature_drift"),
        ],
        kinds={"html"},
        owners=list(spec.owners),
        description=f"The `{spec.name}` monthly report for stakeholders: list size, overlap with last month, customers "
        "entering and leaving the list, score distribution, every gate's outcome, model version and metrics. "
        f"Written to `{reports_dir}/{spec.name}/<month>.html`.",
    )
    @fail_fast_unless_transient
    def monthly_report(context: AssetExecutionContext, warehouse: Warehouse):
        month = partition_month(context)
        written = write_report(warehouse, spec, month, reports_dir)
        context.log.info(f"Report written to {written.html}")
        return MaterializeResult(
            metadata={
                "path": MetadataValue.path(str(written.html)),
                "full_list_csv": MetadataValue.path(str(written.list_csv)) if written.list_csv else None,
                "report": MetadataValue.md(written.markdown),
            }
        )

    return monthly_report

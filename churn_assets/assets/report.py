"""The stakeholders' monthly report: what they used to check by hand in Excel, per model."""

from pathlib import Path

import dagster as dg

from churn_assets.assets.common import model_key, of_model, partition_month
from churn_assets.assets.retries import fail_fast_unless_transient
from churn_assets.catalog import ModelSpec
from churn_assets.reports import write_report
from churn_assets.warehouse import Warehouse


def build_report_asset(
    spec: ModelSpec, partitions_def: dg.PartitionsDefinition, reports_dir: Path
) -> dg.AssetsDefinition:
    """A self-contained HTML report per model and month, also shown as markdown in the UI."""

    @dg.asset(
        **of_model(spec, "monthly_report", partitions_def),
        # The looking-back assets of the month first: the page shows their latest figures.
        deps=[
            model_key(spec.name, "published_predictions"),
            model_key(spec.name, "list_outcome"),
            model_key(spec.name, "feature_drift"),
        ],
        kinds={"html"},
        description=f"The `{spec.name}` monthly report for stakeholders: list size, overlap with last month, customers "
        "entering and leaving the list, score distribution, every gate's outcome, model version and metrics. "
        f"Written to `{reports_dir}/{spec.name}/<month>.html`.",
    )
    @fail_fast_unless_transient
    def monthly_report(context: dg.AssetExecutionContext, warehouse: Warehouse):
        month = partition_month(context)
        written = write_report(warehouse, spec, month, reports_dir)
        context.log.info(f"Report written to {written.html}")
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(written.html)),
                "full_list_csv": dg.MetadataValue.path(str(written.list_csv)) if written.list_csv else None,
                "report": dg.MetadataValue.md(written.markdown),
            }
        )

    return monthly_report

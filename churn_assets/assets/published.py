"""The published list: what the business (the CRM) reads, replaced one month at a time."""

import dagster as dg
import pandas as pd

from churn_assets.assets.common import PUBLISHED, model_key, of_model, partition_month
from churn_assets.assets.retries import fail_fast_unless_transient
from churn_assets.catalog import ModelSpec
from churn_assets.publishing import list_to_publish
from churn_assets.reasons import REASON_COLUMNS, REASONS, reason_counts
from churn_assets.warehouse import Warehouse
from churn_assets.warehouse.lists import month_gates_passed


def published_schema(id_type: str = "source's type") -> dg.TableSchema:
    """The consumer contract's columns; `customer_id` has the source's type (text ids stay text)."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn("model", "string", description="Catalogue name of the model"),
            dg.TableColumn("month", "date", description="Snapshot month the list is for (first day)"),
            dg.TableColumn("customer_id", id_type, description="Customer on the list, as the source types the id"),
            dg.TableColumn("score", "float", description="Predicted probability of the label"),
            dg.TableColumn("rank", "int", description="1 = highest risk; unique within model and month"),
            dg.TableColumn("model_version", "int", description="Registry version that scored the month"),
            dg.TableColumn("value", "float", description="The customer's value (the model's value_column; else NULL)"),
            dg.TableColumn(
                "expected_loss", "float", description="score x value: what losing the customer is expected to cost"
            ),
            *reason_columns(),
            dg.TableColumn("published_at", "timestamp", description="When this month's list was published (UTC)"),
        ]
    )


def reason_columns() -> list[dg.TableColumn]:
    """The customer's top reasons: the features that raise their score most (the champion's TreeSHAP
    contributions), largest first; NULL where fewer features raise it."""
    columns = []
    for i in range(1, REASONS + 1):
        columns += [
            dg.TableColumn(f"reason_{i}_feature", "string", description=f"Feature of reason {i} (its source column)"),
            dg.TableColumn(f"reason_{i}_value", "string", description="The customer's value of it, as text"),
            dg.TableColumn(
                f"reason_{i}_contribution", "float", description="Its contribution to the score, log-odds (> 0)"
            ),
        ]
    return columns


PUBLISHED_SCHEMA = published_schema()


def top_table(frame: pd.DataFrame) -> str:
    """The top of a list as a markdown table, ids and ranks written as they are: tabulate would
    print a row of mixed numbers as floats (customer 1000520 as `1.00052e+06`, like 1000521)."""
    shown = pd.DataFrame(
        {
            "rank": frame["rank"].astype("int64").astype(str),
            "customer_id": frame["customer_id"].astype(str),
            "score": frame["score"].map(lambda score: f"{score:.4f}"),
        }
    )
    return shown.to_markdown(index=False, disable_numparse=True)


def build_published_asset(spec: ModelSpec, partitions_def: dg.PartitionsDefinition, kind: str) -> dg.AssetsDefinition:
    """The top of the month's ranking, published atomically once every blocking gate passed."""

    @dg.asset(
        **of_model(spec, "published_predictions", partitions_def),
        deps=[model_key(spec.name, "predictions")],
        kinds={kind},
        description=f"The `{spec.name}` list the business reads: the top {spec.list_top_fraction:.0%} of eligible "
        "customers by score. One month is replaced atomically; other months are never touched.",
        metadata={"dagster/column_schema": PUBLISHED_SCHEMA},
    )
    @fail_fast_unless_transient
    def published_predictions(context: dg.AssetExecutionContext, warehouse: Warehouse):
        month = partition_month(context)
        passed = month_gates_passed(warehouse, spec.name, month)
        if passed is None:
            # No champion in force: nothing was scored, nothing to judge, nothing to publish.
            context.log.warning(f"Nothing published for {spec.name} {month}: no list was scored")
            return dg.MaterializeResult(metadata={"rows": 0, "published": False, "reason": "no list was scored"})
        if not passed:
            # Dagster skips this step when a gate blocks in the same run; this refuses a run that
            # selects the published list alone after its gates failed.
            raise dg.Failure(
                f"{spec.name} {month}: a business gate of its predictions failed; the list is not published "
                "(re-run the predictions to judge it again)."
            )
        frame = list_to_publish(warehouse, spec, month)
        frame["published_at"] = pd.Timestamp.now(tz="UTC")
        warehouse.replace_rows(PUBLISHED, {"model": spec.name, "month": month}, frame)
        context.log.info(f"Published {len(frame):,} customers to {warehouse.table(PUBLISHED)} for {month}")
        return dg.MaterializeResult(metadata=published_metadata(frame, warehouse.table(PUBLISHED)))

    return published_predictions


def published_metadata(frame: pd.DataFrame, table: str) -> dict:
    """What the UI shows of a published month: its size, the version, the top ten, the id type."""
    return {
        "rows": len(frame),
        "published": True,
        "dagster/row_count": len(frame),
        "dagster/column_schema": published_schema(
            "string" if pd.api.types.is_string_dtype(frame["customer_id"]) else "int"
        ),
        "table": table,
        "model_version": int(frame["model_version"].iloc[0]) if len(frame) else None,
        "top_10": dg.MetadataValue.md(top_table(frame.head(10))) if len(frame) else "empty",
        "top_reasons": dg.MetadataValue.json(dict(list(reason_counts(frame[REASON_COLUMNS]).items())[:5])),
        **value_at_risk(frame),
    }


def value_at_risk(frame: pd.DataFrame) -> dict:
    """The list's total value and expected loss, for a model with a value column."""
    if "expected_loss" not in frame.columns:
        return {}
    return {
        "value_on_list": round(float(frame["value"].sum()), 2),
        "value_at_risk": round(float(frame["expected_loss"].sum()), 2),
    }

"""The snapshot's data contract, as a Great Expectations 1.x suite.

Great Expectations is imported on first use: it costs seconds at import, which would
otherwise land on every load of the code location.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

ID_COLUMN = "customer_id"


@dataclass
class ContractResult:
    """Outcome of the suite: what failed, in words a person can act on."""

    passed: bool
    row_count: int
    missing_columns: list[str] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    evaluated: int = 0

    def summary(self) -> str:
        if self.passed:
            return f"all {self.evaluated} expectations met on {self.row_count} rows"
        parts = []
        if self.missing_columns:
            parts.append(f"missing required columns: {', '.join(self.missing_columns)}")
        parts += [f["what"] for f in self.failures if f["expectation"] != "expect_column_to_exist"]
        return "; ".join(parts)


_context = None


def _validator():
    """One ephemeral GX context per process (cheap to reuse, slow to import)."""
    global _context
    if _context is None:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        import great_expectations as gx

        _context = gx.get_context(mode="ephemeral")
        _context.variables.progress_bars = {"globally": False, "metric_calculations": False}
        _context.data_sources.add_pandas("snapshots").add_dataframe_asset("month").add_batch_definition_whole_dataframe("whole")
    return _context.data_sources.get("snapshots").get_asset("month").get_batch_definition("whole")


def build_suite(
    columns: list[str],
    required_columns: list[str],
    value_ranges: dict[str, tuple[float | None, float | None]],
    row_count_range: tuple[int, int] | None,
):
    """The expectations for one snapshot; value checks only on columns that exist."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    suite = gx.ExpectationSuite(name="snapshot_contract")
    for column in required_columns:
        suite.add_expectation(gxe.ExpectColumnToExist(column=column))
    if ID_COLUMN in columns:
        suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column=ID_COLUMN))
        suite.add_expectation(gxe.ExpectColumnValuesToBeUnique(column=ID_COLUMN))
    for column, (low, high) in value_ranges.items():
        if column in columns:
            suite.add_expectation(gxe.ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high))
    if row_count_range is not None:
        low, high = row_count_range
        suite.add_expectation(gxe.ExpectTableRowCountToBeBetween(min_value=low, max_value=high))
    else:
        suite.add_expectation(gxe.ExpectTableRowCountToBeBetween(min_value=1))
    return suite


def validate_snapshot(
    frame: pd.DataFrame,
    required_columns: list[str],
    value_ranges: dict[str, tuple[float | None, float | None]],
    row_count_range: tuple[int, int] | None = None,
) -> ContractResult:
    """Run the contract on one month's rows and explain every failed expectation."""
    batch_definition = _validator()  # creates the GX context the suite binds to
    suite = build_suite(list(frame.columns), required_columns, value_ranges, row_count_range)
    outcome = batch_definition.get_batch(batch_parameters={"dataframe": frame}).validate(suite, result_format="SUMMARY")
    result = ContractResult(passed=bool(outcome.success), row_count=len(frame), evaluated=len(outcome.results))
    for item in outcome.results:
        if item.success:
            continue
        config = item.expectation_config
        column = config.kwargs.get("column")
        details = item.result or {}
        if config.type == "expect_column_to_exist":
            result.missing_columns.append(column)
            what = f"column {column} is missing"
        elif config.type == "expect_table_row_count_to_be_between":
            what = (
                f"row count {details.get('observed_value')} outside "
                f"[{config.kwargs.get('min_value')}, {config.kwargs.get('max_value')}]"
            )
        else:
            examples = [_plain(v) for v in (details.get("partial_unexpected_list") or [])[:10]]
            what = f"{config.type.removeprefix('expect_')} failed on {column}: {details.get('unexpected_count')} rows, e.g. {examples}"
        result.failures.append({"expectation": config.type, "column": column, "what": what})
    return result


def _plain(value: Any) -> Any:
    """Numpy scalars and NaN as plain JSON-able values for metadata."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    return value.item() if hasattr(value, "item") else value

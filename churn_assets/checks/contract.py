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
    notes: list[str] = field(default_factory=list)
    """Rules that could not be applied, and why (shown with the verdict, never silent)."""

    def add_failure(self, expectation: str, column: str | None, what: str) -> None:
        """A failure found outside the GX suite (e.g. by a query on the whole source)."""
        self.failures.append({"expectation": expectation, "column": column, "what": what})
        self.passed = False

    def summary(self) -> str:
        notes = "".join(f"; {note}" for note in self.notes)
        if self.passed:
            return f"all {self.evaluated} expectations met on {self.row_count} rows{notes}"
        parts = []
        if self.missing_columns:
            parts.append(f"missing required columns: {', '.join(self.missing_columns)}")
        parts += [f["what"] for f in self.failures if f["expectation"] != "expect_column_to_exist"]
        return "; ".join(parts) + notes


_context = None


def _validator():
    """One ephemeral GX context per process (cheap to reuse, slow to import)."""
    global _context
    if _context is None:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        import great_expectations as gx

        _context = gx.get_context(mode="ephemeral")
        _context.variables.progress_bars = {"globally": False, "metric_calculations": False}
        _context.data_sources.add_pandas("snapshots").add_dataframe_asset("month").add_batch_definition_whole_dataframe(
            "whole"
        )
    return _context.data_sources.get("snapshots").get_asset("month").get_batch_definition("whole")


# pandas dtypes (and, for object columns, Python value types) that count as numbers or as text.
NUMERIC_TYPES = [
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float32",
    "float64",
    "Int8",
    "Int16",
    "Int32",
    "Int64",
    "Float32",
    "Float64",
    "bool",
    "boolean",
    "int",
    "float",
]
TEXT_TYPES = ["object", "string", "str", "category", "StringDtype"]


@dataclass(frozen=True)
class ContractSpec:
    """What a snapshot must satisfy (built from the catalogue)."""

    required_columns: list[str]
    numeric_columns: list[str] = field(default_factory=list)
    text_columns: list[str] = field(default_factory=list)
    not_null: list[str] = field(default_factory=list)
    allowed_values: dict[str, tuple] = field(default_factory=dict)
    value_ranges: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    may_be_constant: list[str] = field(default_factory=list)
    """Numeric columns exempt from the "more than one distinct value" rule."""


BLANK_CHECK = "expect_column_proportion_of_non_null_values_to_be_between"
TYPE_CHECK = "expect_column_values_to_be_in_type_list"

# Below this many rows a constant feature may be chance; above it, it is a broken feed.
MIN_ROWS_FOR_VARIETY = 100


def build_expectations(
    columns: list[str], contract: ContractSpec, row_count_range: tuple[int, int] | None, rows: int = 0
) -> list:
    """The expectations for one snapshot; column-level checks only on columns that exist
    (a missing column is reported once, by its existence check)."""
    import great_expectations.expectations as gxe

    present = set(columns)
    expectations: list = []
    for column in contract.required_columns:
        expectations.append(gxe.ExpectColumnToExist(column=column))
    if ID_COLUMN in present:
        expectations.append(gxe.ExpectColumnValuesToNotBeNull(column=ID_COLUMN))
        expectations.append(gxe.ExpectColumnValuesToBeUnique(column=ID_COLUMN))
    for column in contract.not_null:
        if column in present and column != ID_COLUMN:
            expectations.append(gxe.ExpectColumnValuesToNotBeNull(column=column))
    for column in dict.fromkeys([*contract.numeric_columns, *contract.text_columns]):
        if column in present and rows:
            # A feature with no value for anybody is missing data, not a constant: refused even when
            # the source lists it in `may_be_constant` (which is about one repeated value).
            expectations.append(
                gxe.ExpectColumnProportionOfNonNullValuesToBeBetween(column=column, min_value=0, strict_min=True)
            )
    for column in contract.numeric_columns:
        if column in present:
            expectations.append(gxe.ExpectColumnValuesToBeInTypeList(column=column, type_list=NUMERIC_TYPES))
            if rows >= MIN_ROWS_FOR_VARIETY and column not in contract.may_be_constant:
                # A feature with one value for every customer carries no signal: a feed stuck on a default
                # (a source may list columns that are constant on purpose in `may_be_constant`).
                expectations.append(gxe.ExpectColumnUniqueValueCountToBeBetween(column=column, min_value=2))
    for column in contract.text_columns:
        if column in present:
            expectations.append(gxe.ExpectColumnValuesToBeInTypeList(column=column, type_list=TEXT_TYPES))
    for column, allowed in contract.allowed_values.items():
        if column in present:
            expectations.append(gxe.ExpectColumnValuesToBeInSet(column=column, value_set=list(allowed)))
    for column, (low, high) in contract.value_ranges.items():
        if column in present:
            expectations.append(gxe.ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high))
    if row_count_range is not None:
        low, high = row_count_range
        expectations.append(gxe.ExpectTableRowCountToBeBetween(min_value=low, max_value=high))
    else:
        expectations.append(gxe.ExpectTableRowCountToBeBetween(min_value=1))
    return expectations


# Expectations whose GX metric first keeps the rows where the column is not null
# (`df[df[column].notnull()]`), which copies every column of the batch, once per expectation.
# They are validated on a batch of only the columns they name: at 10M customers, a copy of those
# columns instead of the whole month each time.
ROW_FILTERING = {
    "expect_column_values_to_be_between",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_be_unique",
}


def validate_snapshot(
    frame: pd.DataFrame, contract: ContractSpec, row_count_range: tuple[int, int] | None = None
) -> ContractResult:
    """Run the contract on one month's rows and explain every failed expectation."""
    import great_expectations as gx

    batch_definition = _validator()  # creates the GX context the suite binds to
    expectations = build_expectations(list(frame.columns), contract, row_count_range, rows=len(frame))
    plain = _plain_dtypes(frame)
    filtering = [e for e in expectations if e.expectation_type in ROW_FILTERING]
    others = [e for e in expectations if e.expectation_type not in ROW_FILTERING]
    narrow_columns = list(dict.fromkeys(e.column for e in filtering))
    narrow = pd.DataFrame({c: plain[c] for c in narrow_columns}, copy=False)
    results = []
    for group, data in ((others, plain), (filtering, narrow)):
        if not group:
            continue
        batch = batch_definition.get_batch(batch_parameters={"dataframe": data})
        suite = gx.ExpectationSuite(name="snapshot_contract", expectations=group)
        # Verdicts only first: SUMMARY results copy the frame for every expectation (21 s vs 6 s of CPU
        # per million customers, bench/RESULTS.md); the examples are only needed when something failed.
        outcome = batch.validate(suite, result_format="BOOLEAN_ONLY")
        if not outcome.success:
            outcome = batch.validate(suite, result_format="SUMMARY")
        results += outcome.results
    result = ContractResult(passed=all(item.success for item in results), row_count=len(frame), evaluated=len(results))
    # A column that is blank, or not of its type, is said once as such: its other failures (a range
    # of a text column, a constant) follow from it.
    said_as = {}  # column -> the one failure that says what is wrong with it
    for kind in (TYPE_CHECK, BLANK_CHECK):  # blank wins: a blank column has no type either
        for item in results:
            if not item.success and item.expectation_config.type == kind:
                said_as[item.expectation_config.kwargs.get("column")] = kind
    for item in results:
        if item.success:
            continue
        column = item.expectation_config.kwargs.get("column")
        if column in said_as and item.expectation_config.type != said_as[column]:
            continue
        if item.expectation_config.type == "expect_column_to_exist":
            result.missing_columns.append(column)
        result.failures.append(
            {"expectation": item.expectation_config.type, "column": column, "what": _explain(item, frame, contract)}
        )
    return result


def _explain(item, frame: pd.DataFrame, contract: ContractSpec) -> str:
    """One failed expectation in words a person can act on, naming the column and examples."""
    config, details = item.expectation_config, item.result or {}
    column, kind = config.kwargs.get("column"), config.type
    if kind == "expect_column_to_exist":
        return f"column {column} is missing"
    if kind == "expect_table_row_count_to_be_between":
        return (
            f"row count {details.get('observed_value')} outside "
            f"[{config.kwargs.get('min_value')}, {config.kwargs.get('max_value')}]"
        )
    if kind == "expect_column_values_to_be_in_type_list" and column in contract.numeric_columns:
        # A numeric feature that arrives as text: say which values are not numbers.
        count, examples = _not_numbers(frame[column])
        return f"{column} must hold numbers but arrives as text" + (
            f": {count:,} values are not numbers, e.g. {examples}" if count else ""
        )
    if kind == BLANK_CHECK:
        return (
            f"{column} holds no value at all in the {len(frame):,} rows of this month (blank for the whole month): "
            "missing data, refused whatever may_be_constant says"
        )
    if kind == "expect_column_unique_value_count_to_be_between":
        return (
            f"{column} holds {details.get('observed_value')} distinct value(s) for all {len(frame):,} rows "
            "(a feed stuck on a default?); list it in the source's may_be_constant if that is expected"
        )
    examples = [_plain(v) for v in (details.get("partial_unexpected_list") or [])[:10]]
    observed = (
        f"observed {details['observed_value']}"
        if details.get("observed_value") is not None
        else f"{details.get('unexpected_count')} rows"
    )
    return f"{kind.removeprefix('expect_column_values_to_').replace('_', ' ')} failed on {column}: {observed}" + (
        f", e.g. {examples}" if examples else ""
    )


def _not_numbers(values: pd.Series) -> tuple[int, list]:
    """How many values of a text column are neither blank nor a number, and a few of them."""
    present = values.dropna().astype(str)
    present = present[present.str.strip() != ""]
    bad = present[pd.to_numeric(present, errors="coerce").isna()]
    return len(bad), bad.unique()[:5].tolist()


def _plain_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as GX's type checks understand it, copying only the columns that need it:
    nullable integers (DuckDB's BIGINT with NULLs) as float64, and categoricals (text read by
    `Warehouse.read_features`) as pandas strings. GX recognises neither extension dtype. A string
    column made from a categorical holds references to its few category strings (8 bytes a row),
    and unlike an object column GX checks its type from the dtype, without a pass (and a copy of
    the batch) per column. (`astype` with a dict would copy every column: a month's worth.)"""
    convert = {}
    for column, dtype in frame.dtypes.items():
        if isinstance(dtype, pd.CategoricalDtype):
            convert[column] = "string"
        elif isinstance(dtype, pd.api.extensions.ExtensionDtype) and dtype.kind in "iuf":
            convert[column] = "float64"
    if not convert:
        return frame
    return pd.DataFrame(
        {c: frame[c].astype(convert[c]) if c in convert else frame[c] for c in frame.columns}, copy=False
    )


def _plain(value: Any) -> Any:
    """Numpy scalars and NaN as plain JSON-able values for metadata."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    return value.item() if hasattr(value, "item") else value

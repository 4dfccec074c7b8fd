"""What kind of values a column holds, and whether a catalogue value fits it (no dagster import).

The catalogue's values are compared with the source's columns: `equals: 'true'` (text) on a
boolean column would match nobody and list every do-not-contact customer, so it is refused.
"""

from __future__ import annotations

import numbers
from typing import Any

import pandas as pd

BOOLEAN, NUMBER, TEXT, DATE, EMPTY = "boolean", "number", "text", "date", "empty"
# Text that a warehouse may use for booleans (e.g. a CSV export of a BOOLEAN column).
BOOLEAN_TEXT = {"true", "false", "0", "1"}
# Words YAML 1.1 read as booleans; the catalogue reads YAML 1.2, where they are text.
YAML11_BOOLEAN_WORDS = {"yes", "no", "on", "off", "y", "n"}


def column_kind(values: pd.Series) -> str:
    """boolean, number, text or date; `empty` for a column with no value to judge (object)."""
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return BOOLEAN
    if pd.api.types.is_numeric_dtype(dtype):
        return NUMBER
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return DATE
    if isinstance(dtype, pd.CategoricalDtype):
        return column_kind(pd.Series(dtype.categories)) if len(dtype.categories) else EMPTY
    present = values.dropna()
    if present.empty:
        return EMPTY
    kinds = {_value_kind(v) for v in present.head(1000)}
    return kinds.pop() if len(kinds) == 1 else TEXT


def _value_kind(value: Any) -> str:
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return BOOLEAN
    if isinstance(value, numbers.Number):  # numpy scalars and Snowflake's Decimal too
        return NUMBER
    if hasattr(value, "isoformat"):
        return DATE
    return TEXT


def value_kind(value: Any) -> str:
    """The kind of a catalogue value (YAML scalar)."""
    return _value_kind(value)


def mismatch(value: Any, kind: str, values: pd.Series | None = None, exact: bool = False) -> str | None:
    """Why catalogue `value` cannot be compared with a column of `kind` (None when it can).

    Unless `exact`, a boolean may meet a column of 0/1 numbers, and (given `values`, the column) a
    text column holding only true/false/0/1: an exclusion compares them as flags. A label mapping
    compares values as text, where True is not 1: it passes `exact`."""
    wanted = value_kind(value)
    if kind == EMPTY or wanted == kind:
        return None
    if exact:
        return f"{value!r} is {_article(wanted)} but the column holds {kind} values"
    if wanted == BOOLEAN and kind == NUMBER:
        return None  # 0/1 flags
    if wanted == BOOLEAN and kind == TEXT and values is not None:
        distinct = {str(v).strip().lower() for v in pd.Series(values).dropna().unique()}
        if distinct <= BOOLEAN_TEXT:
            return None
    hint = ""
    if kind == BOOLEAN and wanted == TEXT:
        hint = "; write true or false without quotes"
        if str(value).strip().lower() in YAML11_BOOLEAN_WORDS:
            hint += f" ({value!r} is text here: the catalogue reads YAML 1.2, where only true/false are booleans)"
    elif kind == TEXT and wanted in (BOOLEAN, NUMBER):
        hint = f"; quote it ('{value}') if the column holds that text"
    return f"{value!r} is {_article(wanted)} but the column holds {kind} values{hint}"


def _article(kind: str) -> str:
    return {BOOLEAN: "a boolean", NUMBER: "a number", TEXT: "text", DATE: "a date"}.get(kind, kind)

"""The value types of the catalogue's keys: each is a pydantic type with its bounds (which the JSON
Schema shows an editor) and a check that refuses a wrong value in the catalogue's own words.

The check runs before pydantic's own validation, so pydantic never coerces a value the catalogue
refuses: text is not a number, `true` is not a threshold, and 8000.0 is the whole number 8000.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field

# Plain SQL identifiers only: letters, digits and underscores, not starting with a digit.
IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"
# A relation may be schema-qualified (schema.table or database.schema.table).
RELATION = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}$"
# partitions_start as an editor sees it: text, the first day of a month.
FIRST_OF_MONTH = r"^\d{4}-\d{2}-01$"
# Model and source names become table names, a report folder and Dagster keys. 63 is Dagster's
# limit on tag values (and PostgreSQL's on identifiers); it leaves room for every name made from
# them: the longest, Snowflake's load table CHURN_LOAD_TRAINING_SET_<name>_<12 hex digits>, is
# 100 characters of the 255 Snowflake allows, and a report folder is 63 of a file name's 255 bytes.
MAX_NAME_LENGTH = 63
NAME_RULE = f"letters, digits and underscores, not starting with a digit, at most {MAX_NAME_LENGTH} characters"
# Why a label column is never an input (features, exclusions, columns a snapshot requires).
LABEL_UNKNOWN = "a label is not known when a month is scored (labels never reach a snapshot)"


def _type_name(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", str: "text", bool: "a boolean", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _kind_name(kinds: tuple[type, ...]) -> str:
    names = {int: "a number", float: "a number", str: "text", list: "a list", dict: "a mapping", bool: "a boolean"}
    if int in kinds and float not in kinds:
        names[int] = "a whole number"
    text = " or ".join(dict.fromkeys(names.get(k, k.__name__) for k in kinds if k is not type(None)))
    return text + (" or null" if type(None) in kinds else "")


def typed(value: Any, kinds: tuple[type, ...]) -> Any:
    """`value` if it is one of `kinds` (None for type(None)), else ValueError saying what it is."""
    if value is None and type(None) in kinds:
        return None
    # bool is an int in Python; a threshold of `true` is a typo, not a number.
    if isinstance(value, bool) and bool not in kinds:
        raise ValueError(f"must be {_kind_name(kinds)}, got a boolean")
    # 8000.0 is a whole number: accept it where an integer is wanted.
    if int in kinds and float not in kinds and isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, kinds):
        got = "null" if value is None else f"{_type_name(value)} {value!r}"
        raise ValueError(f"must be {_kind_name(kinds)}, got {got}")
    return value


def check(*kinds: type | None, then: Callable[[Any], Any] | None = None) -> BeforeValidator:
    """Refuses a value that is not of `kinds` (None: null), then passes it through `then`."""
    kinds = tuple(type(None) if kind is None else kind for kind in kinds)

    def run(value: Any) -> Any:
        value = typed(value, kinds)
        return value if then is None or value is None else then(value)

    return BeforeValidator(run)


def requiring(test: Callable[[Any], bool], message: str) -> Callable[[Any], Any]:
    """A check that refuses a value failing `test` with `message` (its {} is the value)."""

    def run(value: Any) -> Any:
        if not test(value):
            raise ValueError(message.format(value))
        return value

    return run


def identifier(value: Any, pattern: str = IDENTIFIER) -> str:
    if not isinstance(value, str) or not re.match(pattern, value):
        raise ValueError(f"{value!r} is not a plain SQL identifier (letters, digits, underscore)")
    return value


def _relation(value: str) -> str:
    return identifier(value, RELATION)


def name(value: Any) -> str:
    """A model or source name: a plain identifier short enough for every name made from it."""
    identifier(value)
    if len(value) > MAX_NAME_LENGTH:
        raise ValueError(
            f"is {len(value)} characters long; names are at most {MAX_NAME_LENGTH} characters, so that every "
            "table, file and Dagster key made from them fits its store (e.g. Snowflake's load table "
            "CHURN_LOAD_TRAINING_SET_<name>_<12 hex digits> within 255 characters)"
        )
    return value


def _no_repeats(values: tuple[str, ...]) -> tuple[str, ...]:
    if len(set(values)) != len(values):
        raise ValueError(f"lists a name twice: {sorted({v for v in values if values.count(v) > 1})}")
    return values


def _text_keys(mapping: dict) -> dict:
    return {str(k): v for k, v in mapping.items()}


def _first_of_month(value: dt.date | str) -> dt.date:
    if isinstance(value, dt.datetime):
        raise ValueError(f"{value} is a date and time; write the month's first day, e.g. 2024-01-01")
    try:
        day = value if isinstance(value, dt.date) else dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a date (YYYY-MM-01)") from None
    if day.day != 1:
        raise ValueError(f"{day} must be the first day of a month")
    return day


def _band(value: list) -> list:
    if len(value) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        raise ValueError(f"must be [min, max], got {value!r}")
    if not 0 <= value[0] <= value[1] <= 1:
        raise ValueError(f"must satisfy 0 <= min <= max <= 1, got {value!r}")
    return value


def _label_values(values: dict) -> dict:
    numbers = list(values.values())
    # Each value 0 or 1 (not true/false), and both present; tested in this order so that a list
    # or text among the values is refused, not a TypeError.
    if values and (any(isinstance(v, bool) or v not in (0, 1) for v in numbers) or {0, 1} - set(numbers)):
        raise ValueError(f"must map source values to 1 and 0, e.g. {{Yes: 1, No: 0}}; got {values}")
    for key in values:
        if not isinstance(key, (str, int, float, bool)):
            raise ValueError(f"{key!r} is not a value a label column can hold")
    return {k: int(v) for k, v in values.items()}


def _allowed_values(values: dict) -> dict:
    for column, allowed in values.items():
        identifier(column)
        if not isinstance(allowed, list) or not allowed:
            raise ValueError(f"{column}: must be a non-empty list of values")
    return values


def _value_ranges(ranges: dict) -> dict:
    for column, bounds in ranges.items():
        identifier(column)
        if not (isinstance(bounds, list) and len(bounds) == 2):
            raise ValueError(f"{column}: must be [min, max] (null for open), got {bounds!r}")
        for bound in bounds:
            if bound is not None and (isinstance(bound, bool) or not isinstance(bound, (int, float))):
                raise ValueError(f"{column}: bounds must be numbers or null, got {bound!r}")
        if None not in bounds and bounds[0] > bounds[1]:
            raise ValueError(f"{column}: min {bounds[0]} is above max {bounds[1]}")
    return ranges


_between_0_and_1 = requiring(lambda v: 0 <= v <= 1, "must be between 0 and 1, got {}")
_above_0 = requiring(lambda v: v > 0, "must be above 0")
_positive = requiring(lambda v: v >= 1, "must be a positive integer, got {}")
_not_negative = requiring(lambda v: v >= 0, "must be >= 0, got {}")
_ratio = requiring(lambda v: v > 0, "must be a ratio above 0 (or null to switch the rule off), got {}")
_one_character = requiring(lambda v: len(v) == 1, "must be one character, got {!r}")
_some_feature = requiring(len, "lists no feature")


def _rank_by(value: str) -> str:
    if value not in RANKINGS:
        raise ValueError(f"must be one of {', '.join(RANKINGS)}, got {value!r}")
    return value


RANKINGS = ("score", "expected_loss")


def _share(value: float) -> float:
    return _above_0(_between_0_and_1(value))


# -- The types: pydantic's type and bounds (the JSON Schema), and the check with our words --------

Text = Annotated[str, check(str)]
OptionalText = Annotated[str | None, check(str, None)]
Boolean = Annotated[bool, check(bool)]
WholeNumber = Annotated[int, check(int)]
Number = Annotated[int | float, check(int, float)]
Scalar = Annotated[str | int | float | bool, check(str, int, float, bool)]
PositiveInt = Annotated[int, Field(ge=1), check(int, then=_positive)]
NonNegative = Annotated[float, Field(ge=0), check(int, float, then=_not_negative)]
_Unit = Annotated[float, Field(ge=0, le=1)]
Fraction = Annotated[_Unit, check(int, float, then=_between_0_and_1)]
OptionalFraction = Annotated[_Unit | None, check(int, float, None, then=_between_0_and_1)]
Share = Annotated[float, Field(gt=0, le=1), check(int, float, then=_share)]
RowCountChange = Annotated[Annotated[float, Field(gt=0)] | None, check(int, float, None, then=_ratio)]
Band = Annotated[tuple[_Unit, _Unit], check(list, then=_band)]
Character = Annotated[str, Field(min_length=1, max_length=1), check(str, then=_one_character)]
FirstOfMonth = Annotated[
    dt.date, Field(json_schema_extra={"pattern": FIRST_OF_MONTH}), check(dt.date, str, then=_first_of_month)
]

Identifier = Annotated[str, Field(pattern=IDENTIFIER), BeforeValidator(identifier)]
Column = Annotated[str, Field(pattern=IDENTIFIER), check(str, then=identifier)]  # one column: text first
OptionalColumn = Annotated[
    Annotated[str, Field(pattern=IDENTIFIER)] | None, check(str, None, then=identifier)
]  # a column, or null
RankBy = Annotated[Literal["score", "expected_loss"], check(str, then=_rank_by)]
Relation = Annotated[Annotated[str, Field(pattern=RELATION)] | None, check(str, None, then=_relation)]
Name = Annotated[str, BeforeValidator(name)]
Columns = Annotated[tuple[Identifier, ...], check(list), AfterValidator(_no_repeats)]
Features = Annotated[
    tuple[Identifier, ...], Field(min_length=1), check(list, then=_some_feature), AfterValidator(_no_repeats)
]
TextList = Annotated[tuple[Text, ...], check(list)]
Rename = Annotated[dict[str, Identifier], check(dict, then=_text_keys)]
LabelValues = Annotated[
    dict[str | int | float | bool, Annotated[int, Field(ge=0, le=1)]], check(dict, then=_label_values)
]
AllowedValues = Annotated[
    dict[Identifier, Annotated[tuple[Any, ...], Field(min_length=1)]], check(dict, then=_allowed_values)
]
ValueRanges = Annotated[
    dict[Identifier, tuple[int | float | None, int | float | None]], check(dict, then=_value_ranges)
]

"""The model catalogue: parse and validate ``models.yaml`` into typed, frozen specs.

Everything that differs between models lives in the catalogue, so adding a model is adding a
YAML entry. The catalogue is strict, because a typo must never change what is published
silently: every key is declared below (`SECTIONS`, which also generates docs/catalogue.md), an
unknown key is refused with the nearest valid one suggested, values are type-checked (against
the source's column types too, in `check_against_source`), and booleans follow YAML 1.2 (only
true/false; `Yes`/`No`/`on`/`off` are text). Every error names the file, the model and the key.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_CATALOG = Path(__file__).with_name("models.yaml")
CATALOG_ENV_VAR = "CHURN_MODELS"

# Plain SQL identifiers only: letters, digits and underscores, not starting with a digit.
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# A relation may be schema-qualified (schema.table or database.schema.table).
_RELATION = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}$")
# Model and source names become table names, a report folder and Dagster keys. 63 is Dagster's
# limit on tag values (and PostgreSQL's on identifiers); it leaves room for every name made from
# them: the longest, Snowflake's load table CHURN_LOAD_TRAINING_SET_<name>_<12 hex digits>, is
# 100 characters of the 255 Snowflake allows, and a report folder is 63 of a file name's 255 bytes.
MAX_NAME_LENGTH = 63
NAME_RULE = f"letters, digits and underscores, not starting with a digit, at most {MAX_NAME_LENGTH} characters"
# Why a label column is never an input (features, exclusions, columns a snapshot requires).
LABEL_UNKNOWN = "a label is not known when a month is scored (labels never reach a snapshot)"


class CatalogError(ValueError):
    """The catalogue is malformed; the message names the file, the model and the key."""


# -- The keys of the catalogue: one declaration serves validation and the generated reference --

REQUIRED = object()
"""Default of a key that must be given."""


@dataclass(frozen=True)
class Key:
    name: str
    kind: str
    """The value's type as the reference shows it."""
    default: Any = REQUIRED
    doc: str = ""


TOP_KEYS = (
    Key(
        "partitions_start",
        "date (YYYY-MM-01)",
        doc="First monthly partition offered in Dagster (the UI's "
        "partitions count from it). Set it to the first month your source holds.",
    ),
    Key(
        "sources",
        "mapping: name -> source",
        doc=f"Relations or files that follow the source contract. Names: {NAME_RULE} (they name tables).",
    ),
    Key(
        "models",
        "mapping: name -> model",
        doc=f"One entry per model; the name prefixes its asset keys, tables and report folder. Names: {NAME_RULE}.",
    ),
)
SOURCE_KEYS = (
    Key(
        "relation",
        "text: table, schema.table or database.schema.table",
        None,
        "Warehouse table or view holding one row per customer per month. Give `relation` or `files`.",
    ),
    Key(
        "files",
        "text: path or glob",
        None,
        "CSV (also .csv.gz, .csv.bz2, .csv.zip, .csv.xz) or Parquet "
        "files, relative to the catalogue file, loaded into the warehouse as `source_<name>` when their content "
        "changes. Give `relation` or `files`.",
    ),
    Key("separator", "text: one character", ",", "Field separator of CSV files (e.g. ';')."),
    Key("rename", "mapping: file column -> contract column", {}, "E.g. `{customerID: customer_id}`."),
    Key(
        "label_columns",
        "list of column names",
        REQUIRED,
        "Outcome columns (NULL until their window closes): read only for training, never copied into a snapshot.",
    ),
    Key(
        "required_columns",
        "list of column names",
        [],
        "Columns the contract requires besides every model's "
        "features and exclusion columns (customer_id and snapshot_month always are); never a label column.",
    ),
    Key(
        "not_null",
        "list of column names",
        [],
        "Columns that must never be NULL (customer_id and every exclusion column always are).",
    ),
    Key("allowed_values", "mapping: column -> list of values", {}, "The only values a column may hold."),
    Key("value_ranges", "mapping: column -> [min, max]", {}, "Inclusive bounds; null leaves a side open."),
    Key(
        "max_row_count_change",
        "number > 0, or null",
        0.5,
        "A month's row count may differ from the previous "
        "month's by at most this fraction (1.5: between 0 and 2.5 times); null switches the rule off.",
    ),
    Key(
        "may_be_constant",
        "list of column names",
        [],
        "Numeric features allowed to hold one value for every "
        "customer (otherwise a constant numeric feature fails the contract once a month has 100+ rows: a feed "
        "stuck on a default).",
    ),
)
MODEL_KEYS = (
    Key(
        "source",
        "text: a source name",
        REQUIRED,
        "The source this model reads (models of one source share its snapshot).",
    ),
    Key("label", "column name", REQUIRED, "One of the source's label_columns."),
    Key(
        "label_values",
        "mapping: source value -> 1 or 0",
        {},
        "How the label maps to 1/0 when the source does "
        "not hold 0/1, e.g. `{Yes: 1, No: 0}`. A label value not listed stops training, naming it.",
    ),
    Key(
        "horizon_months",
        "integer >= 1",
        REQUIRED,
        "The label of month m is known once months m+1..m+horizon have closed.",
    ),
    Key(
        "training_window_months",
        "integer >= 1",
        REQUIRED,
        "Labelled months used for training (the latest one is the holdout).",
    ),
    Key(
        "features",
        "list of column names",
        REQUIRED,
        "Model inputs; each must exist in the source, and none may be a label column of the source (any "
        "model's label: labels are not known when a month is scored).",
    ),
    Key(
        "categorical_features",
        "list of column names",
        [],
        "Features that are categories (text); the others must be numbers.",
    ),
    Key(
        "params",
        "mapping: XGBClassifier parameter -> value",
        {},
        "Named parameters of xgboost.XGBClassifier "
        "(n_estimators, max_depth, learning_rate, ...); seed, threads and categorical handling are the "
        "pipeline's.",
    ),
    Key("seed", "integer", 0, "Random seed: same data, params and seed give the same model."),
    Key(
        "refit_on_all_months",
        "boolean",
        False,
        "After evaluation on the holdout, train the version again on "
        "every labelled month (holdout included) and register that artifact; its metrics stay the holdout's.",
    ),
    Key("exclusions", "list of exclusions", [], "Customers never scored nor listed."),
    Key(
        "list_top_fraction",
        "number in (0, 1]",
        REQUIRED,
        "The published list: this top fraction of eligible customers by score.",
    ),
    Key("gates", "mapping", REQUIRED, "Thresholds of every gate (below)."),
    Key("description", "text", None, "Shown in the UI; defaults to a sentence naming the model."),
    Key("owners", "list of text", [], "Owners shown in the UI (e-mails or team:name)."),
)
GATE_KEYS = (
    Key(
        "min_top_k_overlap",
        "number in [0, 1]",
        REQUIRED,
        "Share of last month's listed customers, still customers now, that are listed again: at least this.",
    ),
    Key(
        "max_top_k_overlap",
        "number in [0, 1], or null",
        None,
        "... and at most this (a list that never moves); null: no upper bound.",
    ),
    Key("min_auc", "number in [0, 1]", REQUIRED, "Holdout ROC AUC floor for promotion."),
    Key("min_pr_auc", "number in [0, 1]", 0.0, "Holdout PR AUC floor for promotion."),
    Key(
        "min_holdout_positives",
        "integer >= 1",
        30,
        "Below this many positive labels in the holdout, the AUC "
        "is not judged and the version is not promoted (a handful of positives gives a meaningless AUC).",
    ),
    Key(
        "max_auc_drop_vs_champion",
        "number in [0, 1]",
        0.02,
        "Tolerated AUC drop against the champion, scored on the same holdout.",
    ),
    Key("predicted_rate", "[min, max], numbers in [0, 1]", REQUIRED, "Band of the month's mean predicted probability."),
    Key("max_psi", "number >= 0", 0.25, "Population stability index of the scores against last month's."),
    Key("list_capacity", "integer >= 1", REQUIRED, "Most customers the list may hold (what the team can call)."),
)
EXCLUSION_KEYS = (
    Key(
        "column",
        "column name",
        REQUIRED,
        "A source column, not a label column; it must never be NULL (the contract checks it).",
    ),
    Key(
        "equals",
        "text, number or boolean, of the column's type",
        REQUIRED,
        "Customers whose column equals this "
        "are excluded. Its type must match the column's: `true` on a boolean column, `'cancelled'` on text.",
    ),
    Key("reason", "text", "", "Why (shown in the gates' metadata)."),
)
SECTIONS: dict[str, tuple[Key, ...]] = {
    "top level": TOP_KEYS,
    "sources.<name>": SOURCE_KEYS,
    "models.<name>": MODEL_KEYS,
    "models.<name>.gates": GATE_KEYS,
    "models.<name>.exclusions[]": EXCLUSION_KEYS,
}
# Top-level keys starting with this prefix are free: a place for YAML anchors (`x-defaults: &defaults`).
FREE_PREFIX = "x-"

# Named parameters of xgboost.XGBClassifier a catalogue may set, with the type each takes
# (checked against xgboost's own signature by a unit test). Set by the pipeline, never here:
# random_state (the model's `seed`), n_jobs, enable_categorical, objective.
XGBOOST_PARAMS: dict[str, type | tuple[type, ...]] = {
    **dict.fromkeys(
        [
            "n_estimators",
            "max_depth",
            "max_leaves",
            "max_bin",
            "num_parallel_tree",
            "max_cat_to_onehot",
            "max_cat_threshold",
            "verbosity",
        ],
        int,
    ),
    **dict.fromkeys(
        [
            "learning_rate",
            "gamma",
            "min_child_weight",
            "max_delta_step",
            "subsample",
            "colsample_bytree",
            "colsample_bylevel",
            "colsample_bynode",
            "reg_alpha",
            "reg_lambda",
            "scale_pos_weight",
            "base_score",
        ],
        (int, float),
    ),
    **dict.fromkeys(
        ["grow_policy", "booster", "tree_method", "sampling_method", "eval_metric", "importance_type", "device"],
        str,
    ),
    "monotone_constraints": (str, dict),
    "interaction_constraints": (str, list),
    "validate_parameters": bool,
}
PIPELINE_PARAMS = {"seed", "random_state", "nthread", "n_jobs", "enable_categorical", "objective"}


# -- Specs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceSpec:
    """A relation that follows the source contract (one row per customer per month)."""

    name: str
    relation: str
    """Table or view in the warehouse; empty for a file source (loaded into `source_<name>`)."""
    files: str | None = None
    """CSV or Parquet path or glob (resolved against the catalogue's folder) loaded into the warehouse."""
    separator: str = ","
    rename: dict[str, str] = field(default_factory=dict)
    """File column -> contract column, e.g. customerID: customer_id."""
    value_ranges: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    required_columns: tuple[str, ...] = ()
    label_columns: tuple[str, ...] = ()
    """Outcome columns: read only for training, once matured; never copied into a snapshot."""
    not_null: tuple[str, ...] = ()
    allowed_values: dict[str, tuple] = field(default_factory=dict)
    max_row_count_change: float | None = 0.5
    """A month's row count may differ from the previous month's by at most this fraction; None: off."""
    may_be_constant: tuple[str, ...] = ()


@dataclass(frozen=True)
class Exclusion:
    """Customers whose `column` equals `equals` are never scored nor listed."""

    column: str
    equals: Any
    reason: str


@dataclass(frozen=True)
class Gates:
    """Thresholds of every gate of a model (see README, "Gates")."""

    min_top_k_overlap: float
    max_top_k_overlap: float | None
    min_auc: float
    min_pr_auc: float
    max_auc_drop_vs_champion: float
    predicted_rate: tuple[float, float]
    max_psi: float
    list_capacity: int
    min_holdout_positives: int = 30


@dataclass(frozen=True)
class ModelSpec:
    """One customer classification model, as declared in the catalogue."""

    name: str
    description: str
    owners: tuple[str, ...]
    source: SourceSpec
    label: str
    horizon_months: int
    training_window_months: int
    features: tuple[str, ...]
    categorical_features: tuple[str, ...]
    params: dict[str, Any]
    seed: int
    exclusions: tuple[Exclusion, ...]
    list_top_fraction: float
    gates: Gates
    label_values: dict[str, int] = field(default_factory=dict)
    """How label values map to 1/0 when the source does not hold 0/1 (e.g. Yes: 1, No: 0)."""
    refit_on_all_months: bool = False

    @property
    def numeric_features(self) -> tuple[str, ...]:
        return tuple(f for f in self.features if f not in self.categorical_features)

    def label_as_int(self, values):
        """The label as 0/1 (pandas Series in, Series out); missing values become NaN.

        Raises ValueError naming the values that are neither missing nor mapped (with
        `label_values`) or not 0/1 (without): they are not "unknown yet", they are unexplained."""
        import pandas as pd

        if not self.label_values:
            numbers = pd.to_numeric(values, errors="coerce").astype("float64")
            bad = values[values.notna() & ~numbers.isin([0.0, 1.0])]
        else:
            mapping = {label_text(k): v for k, v in self.label_values.items()}
            numbers = labels_as_text(values).map(mapping).astype("float64")
            bad = values[values.notna() & numbers.isna()]
        if len(bad):
            examples = sorted({repr(v) for v in bad.astype(object).unique()[:5]})
            known = f"label_values maps {sorted(self.label_values)}" if self.label_values else "labels must be 0 or 1"
            raise ValueError(
                f"model '{self.name}': {len(bad):,} values of label {self.label} are not known label values, "
                f"e.g. {', '.join(examples)} ({known}; set label_values in the catalogue)"
            )
        return numbers


def label_text(value: Any) -> str:
    """A label value as text, as `label_values` keys are compared: 1.0 and 1 are both "1"."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def labels_as_text(values):
    """A label column as text for `label_values`: numbers without a trailing .0 (a 0/1 column with
    NULLs arrives as floats)."""
    import pandas as pd

    text = values.astype("string")
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        text = text.str.replace(r"\.0$", "", regex=True)
    return text


@dataclass(frozen=True)
class Catalog:
    """All sources and models of one catalogue file."""

    path: Path
    partitions_start: dt.date
    sources: dict[str, SourceSpec]
    models: dict[str, ModelSpec]

    def models_of_source(self, source_name: str) -> list[ModelSpec]:
        return [m for m in self.models.values() if m.source.name == source_name]

    def label_columns(self, source_name: str) -> set[str]:
        """Every outcome column of a source: never copied into a snapshot (no leakage)."""
        return set(self.sources[source_name].label_columns) | {m.label for m in self.models_of_source(source_name)}


def catalog_path() -> Path:
    """The catalogue in force: ``$CHURN_MODELS`` if set, else the packaged ``models.yaml``."""
    return Path(os.environ.get(CATALOG_ENV_VAR) or DEFAULT_CATALOG)


# -- YAML ------------------------------------------------------------------------------------


class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """YAML that refuses a key given twice (plain YAML keeps the last one silently: a second
    `churn:` entry would replace the first model without a word), reads booleans as YAML 1.2 does
    (only true/false: `{Yes: 1, No: 0}` keeps its text keys instead of becoming {True: 1, False: 0})
    and accepts merge keys (`<<: *defaults`). Parsed by libyaml when PyYAML has it: the pure-Python
    parser cost 0.2-0.3 s of each load of a 30-model catalogue."""


_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_MERGE_TAG = "tag:yaml.org,2002:merge"


def _mapping_without_duplicates(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False):
    seen = set()
    for key_node, _ in node.value:
        if key_node.tag == _MERGE_TAG:
            continue  # merged keys may be overridden by the mapping's own: that is what merging is for
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (a model or key given twice)", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Read and validate a catalogue file; raise CatalogError naming file, model and key."""
    path = Path(path) if path else catalog_path()
    try:
        raw = yaml.load(path.read_text(), Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except FileNotFoundError as exc:
        raise CatalogError(f"{path}: catalogue file not found") from exc
    except IsADirectoryError as exc:
        raise CatalogError(f"{path}: is a folder; point {CATALOG_ENV_VAR} at the catalogue file") from exc
    except (PermissionError, UnicodeDecodeError) as exc:
        raise CatalogError(f"{path}: cannot be read ({exc.__class__.__name__}: {exc})") from exc
    except yaml.YAMLError as exc:
        # One line: where and what (PyYAML's own message spans several lines with a code excerpt).
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise CatalogError(f"{path}: not valid YAML{where}: {problem}") from exc
    return _parse(path, raw)


# -- Reading ---------------------------------------------------------------------------------


def nearest(name: str, candidates) -> str | None:
    """The candidate closest to a mistyped name, if any is close."""
    matches = difflib.get_close_matches(str(name), list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


def suggestion(name: str, candidates, listed_as: str) -> str:
    """ "did you mean 'x'?" for a close candidate, else every candidate (`listed_as: a, b`)."""
    guess = nearest(name, candidates)
    return f"did you mean '{guess}'?" if guess else f"{listed_as}: {', '.join(sorted(map(str, candidates)))}"


class _Reader:
    """Typed access to one mapping of the YAML, with errors that say where. Refuses keys that the
    mapping's section does not declare."""

    def __init__(self, path: Path, where: str, data: Any, keys: tuple[Key, ...]):
        self.path, self.where = path, where
        if not isinstance(data, dict):
            self.fail(None, f"must be a mapping, got {_type_name(data)}")
        self.data = data
        self.keys = {k.name: k for k in keys}
        for key in data:
            if key in self.keys or (keys is TOP_KEYS and str(key).startswith(FREE_PREFIX)):
                continue
            hint = suggestion(key, self.keys, "valid keys")
            self.fail(str(key), f"unknown key; {hint} (docs/catalogue.md lists every key)")

    def fail(self, key: str | None, message: str):
        at = f"{self.where}, key '{key}'" if key else self.where
        raise CatalogError(f"{self.path}: {at}: {message}")

    def get(self, key: str, kind: type | tuple[type, ...]) -> Any:
        declared = self.keys[key]  # a KeyError here is a key missing from SECTIONS: a bug, not input
        if key not in self.data:
            if declared.default is REQUIRED:
                self.fail(key, "is required")
            # A fresh [] or {} each time: a default is never shared between models.
            return (
                type(declared.default)(declared.default)
                if isinstance(declared.default, (list, dict))
                else declared.default
            )
        return self.typed(key, self.data[key], kind)

    def typed(self, key: str, value: Any, kind: type | tuple[type, ...]) -> Any:
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if value is None and type(None) in kinds:
            return None
        # bool is an int in Python; a threshold of `true` is a typo, not a number.
        if isinstance(value, bool) and bool not in kinds:
            self.fail(key, f"must be {_kind_name(kinds)}, got a boolean")
        # 8000.0 is a whole number: accept it where an integer is wanted.
        if int in kinds and float not in kinds and isinstance(value, float) and value.is_integer():
            return int(value)
        if not isinstance(value, kinds):
            self.fail(key, f"must be {_kind_name(kinds)}, got {_type_name(value)} {value!r}")
        return value

    def identifier(self, key: str, value: Any = ..., pattern: re.Pattern = _IDENTIFIER) -> str:
        value = self.get(key, str) if value is ... else value
        if not isinstance(value, str) or not pattern.match(value):
            self.fail(key, f"{value!r} is not a plain SQL identifier (letters, digits, underscore)")
        return value

    def name(self, value: Any) -> str:
        """A model or source name: a plain identifier short enough for every name made from it."""
        self.identifier("name", value)
        if len(value) > MAX_NAME_LENGTH:
            self.fail(
                "name",
                f"is {len(value)} characters long; names are at most {MAX_NAME_LENGTH} characters, so that every "
                "table, file and Dagster key made from them fits its store (e.g. Snowflake's load table "
                "CHURN_LOAD_TRAINING_SET_<name>_<12 hex digits> within 255 characters)",
            )
        return value

    def identifiers(self, key: str) -> tuple[str, ...]:
        values = self.get(key, list)
        for value in values:
            self.identifier(key, value)
        if len(set(values)) != len(values):
            self.fail(key, f"lists a name twice: {sorted({v for v in values if values.count(v) > 1})}")
        return tuple(values)

    def fraction(self, key: str, allow_none: bool = False) -> float | None:
        value = self.get(key, (int, float, type(None)) if allow_none else (int, float))
        if value is None:
            return None
        if not 0.0 <= float(value) <= 1.0:
            self.fail(key, f"must be between 0 and 1, got {value}")
        return float(value)

    def positive_int(self, key: str) -> int:
        value = self.get(key, int)
        if value < 1:
            self.fail(key, f"must be a positive integer, got {value}")
        return value


def _type_name(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", str: "text", bool: "a boolean", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _kind_name(kinds: tuple[type, ...]) -> str:
    names = {int: "a number", float: "a number", str: "text", list: "a list", dict: "a mapping", bool: "a boolean"}
    if int in kinds and float not in kinds:
        names[int] = "a whole number"
    text = " or ".join(dict.fromkeys(names.get(k, k.__name__) for k in kinds if k is not type(None)))
    return text + (" or null" if type(None) in kinds else "")


def _label_values(reader: _Reader) -> dict[Any, int]:
    values = reader.get("label_values", dict)
    if values and (sorted(set(values.values())) != [0, 1] or any(isinstance(v, bool) for v in values.values())):
        reader.fail("label_values", f"must map source values to 1 and 0, e.g. {{Yes: 1, No: 0}}; got {values}")
    for key in values:
        if not isinstance(key, (str, int, float, bool)):
            reader.fail("label_values", f"{key!r} is not a value a label column can hold")
    return {k: int(v) for k, v in values.items()}


def _allowed_values(reader: _Reader) -> dict[str, tuple]:
    values = reader.get("allowed_values", dict)
    for column, allowed in values.items():
        reader.identifier("allowed_values", column)
        if not isinstance(allowed, list) or not allowed:
            reader.fail("allowed_values", f"{column}: must be a non-empty list of values")
    return {column: tuple(allowed) for column, allowed in values.items()}


def _value_ranges(reader: _Reader) -> dict[str, tuple[float | None, float | None]]:
    ranges = {}
    for column, bounds in reader.get("value_ranges", dict).items():
        reader.identifier("value_ranges", column)
        if not (isinstance(bounds, list) and len(bounds) == 2):
            reader.fail("value_ranges", f"{column}: must be [min, max] (null for open), got {bounds!r}")
        for bound in bounds:
            if bound is not None and (isinstance(bound, bool) or not isinstance(bound, (int, float))):
                reader.fail("value_ranges", f"{column}: bounds must be numbers or null, got {bound!r}")
        if None not in bounds and bounds[0] > bounds[1]:
            reader.fail("value_ranges", f"{column}: min {bounds[0]} is above max {bounds[1]}")
        ranges[column] = (bounds[0], bounds[1])
    return ranges


def _band(reader: _Reader, key: str) -> tuple[float, float]:
    value = reader.get(key, list)
    if len(value) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        reader.fail(key, f"must be [min, max], got {value!r}")
    low, high = float(value[0]), float(value[1])
    if not 0 <= low <= high <= 1:
        reader.fail(key, f"must satisfy 0 <= min <= max <= 1, got {value!r}")
    return low, high


def _non_negative(reader: _Reader, key: str) -> float:
    value = reader.get(key, (int, float))
    if value < 0:
        reader.fail(key, f"must be >= 0, got {value}")
    return float(value)


def _row_count_change(reader: _Reader) -> float | None:
    value = reader.get("max_row_count_change", (int, float, type(None)))
    if value is not None and value <= 0:
        reader.fail("max_row_count_change", f"must be a ratio above 0 (or null to switch the rule off), got {value}")
    return None if value is None else float(value)


def _params(reader: _Reader) -> dict[str, Any]:
    params = reader.get("params", dict)
    for key, value in params.items():
        if key in PIPELINE_PARAMS:
            reader.fail("params", f"'{key}' is set by the pipeline (use the model's 'seed' key)")
        if key not in XGBOOST_PARAMS:
            hint = suggestion(key, XGBOOST_PARAMS, "known")
            reader.fail("params", f"'{key}' is not a parameter of xgboost.XGBClassifier; {hint}")
        reader.typed(f"params.{key}", value, XGBOOST_PARAMS[key])
    return dict(params)


def _parse(path: Path, raw: Any) -> Catalog:
    top = _Reader(path, "top level", raw, TOP_KEYS)
    start = top.get("partitions_start", (dt.date, str))
    if isinstance(start, dt.datetime):
        top.fail("partitions_start", f"{start} is a date and time; write the month's first day, e.g. 2024-01-01")
    try:
        start = start if isinstance(start, dt.date) else dt.date.fromisoformat(start)
    except ValueError:
        top.fail("partitions_start", f"{start!r} is not a date (YYYY-MM-01)")
    if start.day != 1:
        top.fail("partitions_start", f"{start} must be the first day of a month")

    sources = {}
    for name, body in top.get("sources", dict).items():
        twin = next((other for other in sources if str(other).lower() == str(name).lower()), None)
        if twin is not None:
            top.fail("sources", f"'{name}' and '{twin}' differ only in case (their tables would clash)")
        sources[name] = _parse_source(path, name, body)
    if not sources:
        top.fail("sources", "declares no source")

    models: dict[str, ModelSpec] = {}
    for name, body in top.get("models", dict).items():
        twin = next((other for other in models if str(other).lower() == str(name).lower()), None)
        if twin is not None:
            top.fail("models", f"'{name}' and '{twin}' differ only in case (their tables would clash)")
        models[name] = _parse_model(path, name, body, sources)
    if not models:
        top.fail("models", "declares no model")
    for model in models.values():
        _refuse_labels_as_inputs(path, model, models)
    return Catalog(path=path, partitions_start=start, sources=sources, models=models)


def _parse_source(path: Path, name: Any, body: Any) -> SourceSpec:
    reader = _Reader(path, f"source '{name}'", body, SOURCE_KEYS)
    reader.name(name)
    files = reader.get("files", (str, type(None)))
    relation = reader.get("relation", (str, type(None)))
    if (files is None) == (relation is None):
        reader.fail("relation", "give either a warehouse `relation` or `files`, not both or neither")
    if relation is not None:
        reader.identifier("relation", relation, pattern=_RELATION)
    if files is not None and not Path(files).is_absolute():
        # Relative paths stay inside the catalogue's folder: `../../etc/*` is refused, an
        # absolute path is taken as meant.
        folder = path.parent.resolve()
        resolved = (folder / files).resolve()
        if not resolved.is_relative_to(folder):
            reader.fail("files", f"{files!r} leads outside the catalogue's folder {folder}; give an absolute path")
        files = str(resolved)
    separator = reader.get("separator", str)
    if len(separator) != 1:
        reader.fail("separator", f"must be one character, got {separator!r}")
    rename = reader.get("rename", dict)
    for target in rename.values():
        reader.identifier("rename", target)
    required, labels = reader.identifiers("required_columns"), reader.identifiers("label_columns")
    lowered = {label.lower() for label in labels}
    for column in required:
        if column.lower() in lowered:
            reader.fail(
                "required_columns", f"{column} is a label column; {LABEL_UNKNOWN}, so a snapshot cannot require it"
            )
    return SourceSpec(
        name=name,
        relation=relation or "",
        files=files,
        separator=separator,
        rename={str(k): v for k, v in rename.items()},
        value_ranges=_value_ranges(reader),
        required_columns=required,
        label_columns=labels,
        not_null=reader.identifiers("not_null"),
        allowed_values=_allowed_values(reader),
        max_row_count_change=_row_count_change(reader),
        may_be_constant=reader.identifiers("may_be_constant"),
    )


def _parse_model(path: Path, name: Any, body: Any, sources: dict[str, SourceSpec]) -> ModelSpec:
    r = _Reader(path, f"model '{name}'", body, MODEL_KEYS)
    r.name(name)
    source_name = r.get("source", str)
    if source_name not in sources:
        r.fail("source", f"unknown source {source_name!r}; {suggestion(source_name, sources, 'declared sources')}")
    features = r.identifiers("features")
    if not features:
        r.fail("features", "lists no feature")
    categorical = r.identifiers("categorical_features")
    stray = [c for c in categorical if c not in features]
    if stray:
        r.fail("categorical_features", f"not listed in features: {stray}")
    label = r.identifier("label")
    if label not in sources[source_name].label_columns:
        r.fail(
            "label",
            f"{label!r} is not one of source '{source_name}' label_columns {list(sources[source_name].label_columns)}",
        )
    if label in features:
        r.fail("label", f"{label!r} is also a feature (that would leak the outcome)")

    exclusions = []
    items = r.get("exclusions", list)
    for index, item in enumerate(items, start=1):
        er = _Reader(path, f"model '{name}', exclusion {index}", item, EXCLUSION_KEYS)
        equals = er.get("equals", (str, int, float, bool))
        exclusions.append(Exclusion(column=er.identifier("column"), equals=equals, reason=er.get("reason", str)))

    g = _Reader(path, f"model '{name}', gates", r.get("gates", dict), GATE_KEYS)
    gates = Gates(
        min_top_k_overlap=g.fraction("min_top_k_overlap"),
        max_top_k_overlap=g.fraction("max_top_k_overlap", allow_none=True),
        min_auc=g.fraction("min_auc"),
        min_pr_auc=g.fraction("min_pr_auc"),
        max_auc_drop_vs_champion=g.fraction("max_auc_drop_vs_champion"),
        predicted_rate=_band(g, "predicted_rate"),
        max_psi=_non_negative(g, "max_psi"),
        list_capacity=g.positive_int("list_capacity"),
        min_holdout_positives=g.positive_int("min_holdout_positives"),
    )
    if gates.max_top_k_overlap is not None and gates.max_top_k_overlap < gates.min_top_k_overlap:
        g.fail("max_top_k_overlap", "is below min_top_k_overlap")

    top_fraction = r.fraction("list_top_fraction")
    if top_fraction == 0:
        r.fail("list_top_fraction", "must be above 0")
    owners = r.get("owners", list)
    for owner in owners:
        r.typed("owners", owner, str)
    return ModelSpec(
        name=name,
        description=r.get("description", (str, type(None))) or f"Customer classification model '{name}'.",
        owners=tuple(owners),
        source=sources[source_name],
        label=label,
        horizon_months=r.positive_int("horizon_months"),
        training_window_months=r.positive_int("training_window_months"),
        features=features,
        categorical_features=categorical,
        params=_params(r),
        seed=r.get("seed", int),
        exclusions=tuple(exclusions),
        list_top_fraction=top_fraction,
        gates=gates,
        label_values=_label_values(r),
        refit_on_all_months=r.get("refit_on_all_months", bool),
    )


def _refuse_labels_as_inputs(path: Path, model: ModelSpec, models: dict[str, ModelSpec]) -> None:
    """No label column of the model's source (any model's label, in any case) may be a feature or
    an exclusion column: `check` used to pass them and `run` then failed on a missing column."""
    labels = {label.lower() for label in model.source.label_columns}
    owners = {m.label.lower(): m.name for m in models.values() if m.source.name == model.source.name}

    def refuse(where: str, column: str, role: str):
        owner = owners.get(column.lower())
        what = f"the label of model '{owner}'" if owner else f"a label column of source '{model.source.name}'"
        raise CatalogError(f"{path}: model '{model.name}', {where}: {column} is {what}; {LABEL_UNKNOWN}, so {role}")

    for feature in model.features:
        if feature.lower() in labels:
            refuse("key 'features'", feature, "it cannot be a feature")
    for index, rule in enumerate(model.exclusions, start=1):
        if rule.column.lower() in labels:
            refuse(f"exclusion {index}, key 'column'", rule.column, "it cannot decide who is excluded")


# -- The catalogue against a source's real columns -------------------------------------------


def check_against_source(
    catalog: Catalog,
    source_name: str,
    columns: set[str],
    label_columns: set[str] | None = None,
    sample: dict[str, Any] | None = None,
) -> None:
    """Every feature, exclusion column and label a model names must exist in its source; with
    `sample`, the catalogue's values must also fit the columns' types.

    `columns` are the columns known for the source (live relation and last snapshot);
    `label_columns` those of the live relation (labels never reach a snapshot), None to skip;
    `sample` maps a column name (lower case) to some of its values (a pandas Series), None to skip
    the type checks. Comparison ignores case (Snowflake upper-cases unquoted names).
    """
    known = {c.lower() for c in columns}
    source = catalog.sources[source_name]
    origin = f"source '{source_name}' ({source.relation or source.files})"
    for model in catalog.models_of_source(source_name):
        where = f"{catalog.path}: model '{model.name}'"
        for key, names in (("features", model.features), ("exclusions", [e.column for e in model.exclusions])):
            missing = [name for name in names if name.lower() not in known]
            if missing:
                hints = [f"{name} (did you mean {guess}?)" for name in missing if (guess := nearest(name, columns))]
                raise CatalogError(
                    f"{where}, key '{key}': {missing} not in {origin}" + (f"; {', '.join(hints)}" if hints else "")
                )
        if label_columns is not None and model.label.lower() not in {c.lower() for c in label_columns}:
            raise CatalogError(f"{where}, key 'label': {model.label!r} not in {origin}")
        if sample is not None:
            _check_model_types(where, model, sample)
    if sample is not None:
        _check_source_types(f"{catalog.path}: {origin}", source, sample)


def _check_model_types(where: str, model: ModelSpec, sample: dict[str, Any]) -> None:
    from churn_assets.rules.types import TEXT, column_kind, mismatch

    for rule in model.exclusions:
        values = sample.get(rule.column.lower())
        problem = None if values is None else mismatch(rule.equals, column_kind(values), values)
        if problem:
            raise CatalogError(f"{where}, key 'exclusions' (column {rule.column}): equals {problem}")
    labels = sample.get(model.label.lower())
    if labels is not None:
        kind = column_kind(labels)
        for value in model.label_values:
            problem = mismatch(value, kind, labels, exact=True)
            if problem:
                raise CatalogError(f"{where}, key 'label_values': {problem} (label {model.label})")
        if model.label_values:
            known = {label_text(value) for value in model.label_values}
            unmapped = sorted(set(labels_as_text(labels).dropna().unique()) - known)
            if unmapped:
                raise CatalogError(
                    f"{where}, key 'label_values': label {model.label} holds values it does not map: "
                    f"{[repr(v) for v in unmapped[:5]]} (maps {sorted(known)})"
                )
        elif kind == TEXT:
            examples = sorted({str(v) for v in labels.dropna().unique()[:5]})
            raise CatalogError(
                f"{where}, key 'label_values': label {model.label} holds text ({examples}); map it to 1/0, "
                "e.g. label_values: {Yes: 1, No: 0}"
            )
    for feature in model.numeric_features:
        values = sample.get(feature.lower())
        if values is not None and column_kind(values) == TEXT:
            examples = [str(v) for v in values.dropna().unique()[:3]]
            raise CatalogError(
                f"{where}, key 'features': {feature} holds text in the source (e.g. {examples}); list it in "
                "categorical_features, or fix the source so it holds numbers"
            )


def _check_source_types(where: str, source: SourceSpec, sample: dict[str, Any]) -> None:
    from churn_assets.rules.types import EMPTY, NUMBER, column_kind, mismatch

    for column, allowed in source.allowed_values.items():
        values = sample.get(column.lower())
        for value in allowed if values is not None else ():
            problem = mismatch(value, column_kind(values), values)
            if problem:
                raise CatalogError(f"{where}, key 'allowed_values' ({column}): {problem}")
    for column in source.value_ranges:
        values = sample.get(column.lower())
        if values is not None and column_kind(values) not in (NUMBER, EMPTY):
            raise CatalogError(
                f"{where}, key 'value_ranges' ({column}): the column holds {column_kind(values)} values, not numbers"
            )

"""The model catalogue: parse and validate ``models.yaml`` into typed, frozen specs.

Everything that differs between models lives in the catalogue, so adding a model is adding a
YAML entry. Validation happens when the code location loads and every error names the file,
the model and the key at fault. Identifiers that reach SQL are checked here, once.
"""

from __future__ import annotations

import datetime as dt
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


class CatalogError(ValueError):
    """The catalogue is malformed; the message names the file, the model and the key."""


@dataclass(frozen=True)
class SourceSpec:
    """A relation that follows the source contract (one row per customer per month)."""

    name: str
    relation: str
    """Table or view in the warehouse; empty for a file source (loaded into `source_<name>`)."""
    files: str | None = None
    """CSV or Parquet path or glob (relative to the catalogue file) loaded into the warehouse."""
    rename: dict[str, str] = field(default_factory=dict)
    """File column -> contract column, e.g. customerID: customer_id."""
    value_ranges: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    required_columns: tuple[str, ...] = ()
    label_columns: tuple[str, ...] = ()
    not_null: tuple[str, ...] = ()
    allowed_values: dict[str, tuple] = field(default_factory=dict)
    """Outcome columns: read only for training, once matured; never copied into a snapshot."""
    max_row_count_change: float = 0.5
    """A month's row count may differ from the previous month's by at most this fraction."""


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

    @property
    def numeric_features(self) -> tuple[str, ...]:
        return tuple(f for f in self.features if f not in self.categorical_features)

    def label_as_int(self, values):
        """The label as 0/1 (pandas Series in, Series out); unmapped or missing values become NaN."""
        if not self.label_values:
            return values.astype("float64")
        mapping = {str(k): v for k, v in self.label_values.items()}
        return values.astype("string").map(mapping).astype("float64")


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


class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """YAML that refuses a key given twice (plain YAML keeps the last one silently: a second
    `churn:` entry would replace the first model without a word). Parsed by libyaml when PyYAML
    has it: the pure-Python parser cost 0.2-0.3 s of each load of a 30-model catalogue."""


def _mapping_without_duplicates(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False):
    seen = set()
    for key_node, _ in node.value:
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
    except yaml.YAMLError as exc:
        # One line: where and what (PyYAML's own message spans several lines with a code excerpt).
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise CatalogError(f"{path}: not valid YAML{where}: {problem}") from exc
    return _parse(path, raw)


class _Reader:
    """Typed access to one mapping of the YAML, with errors that say where."""

    def __init__(self, path: Path, where: str, data: Any):
        self.path, self.where = path, where
        if not isinstance(data, dict):
            self.fail(None, f"must be a mapping, got {type(data).__name__}")
        self.data = data

    def fail(self, key: str | None, message: str):
        at = f"{self.where}, key '{key}'" if key else self.where
        raise CatalogError(f"{self.path}: {at}: {message}")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        if key not in self.data:
            if default is ...:
                self.fail(key, "is required")
            return default
        value = self.data[key]
        # bool is an int in Python; a threshold of `true` is a typo, not a number.
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            self.fail(key, f"must be {_kind_name(kind)}, got a boolean")
        if not isinstance(value, kind):
            self.fail(key, f"must be {_kind_name(kind)}, got {type(value).__name__} {value!r}")
        return value

    def identifier(self, key: str, value: Any = ..., pattern: re.Pattern = _IDENTIFIER) -> str:
        value = self.get(key, str) if value is ... else value
        if not isinstance(value, str) or not pattern.match(value):
            self.fail(key, f"{value!r} is not a plain SQL identifier (letters, digits, underscore)")
        return value

    def identifiers(self, key: str, default: Any = ...) -> tuple[str, ...]:
        values = self.get(key, list, default)
        for value in values:
            self.identifier(key, value)
        if len(set(values)) != len(values):
            self.fail(key, f"lists a name twice: {sorted({v for v in values if values.count(v) > 1})}")
        return tuple(values)

    def fraction(self, key: str, default: Any = ..., allow_none: bool = False) -> float | None:
        value = self.get(key, (int, float, type(None)) if allow_none else (int, float), default)
        if value is None:
            return None
        if not 0.0 <= float(value) <= 1.0:
            self.fail(key, f"must be between 0 and 1, got {value}")
        return float(value)

    def positive_int(self, key: str, default: Any = ...) -> int:
        value = self.get(key, int, default)
        if value < 1:
            self.fail(key, f"must be a positive integer, got {value}")
        return value


def _label_values(reader: _Reader) -> dict[str, int]:
    values = reader.get("label_values", dict, {})
    if values and (sorted(set(values.values())) != [0, 1] or any(isinstance(v, bool) for v in values.values())):
        reader.fail("label_values", f"must map source values to 1 and 0, e.g. {{Yes: 1, No: 0}}; got {values}")
    return {str(k): int(v) for k, v in values.items()}


def _allowed_values(reader: _Reader) -> dict[str, tuple]:
    values = reader.get("allowed_values", dict, {})
    for column, allowed in values.items():
        reader.identifier("allowed_values", column)
        if not isinstance(allowed, list) or not allowed:
            reader.fail("allowed_values", f"{column}: must be a non-empty list of values")
    return {column: tuple(allowed) for column, allowed in values.items()}


def _band(reader: _Reader, key: str) -> tuple[float, float]:
    value = reader.get(key, list)
    if len(value) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        reader.fail(key, f"must be [min, max], got {value!r}")
    low, high = float(value[0]), float(value[1])
    if not 0 <= low <= high <= 1:
        reader.fail(key, f"must satisfy 0 <= min <= max <= 1, got {value!r}")
    return low, high


def _non_negative(reader: _Reader, key: str, default: float) -> float:
    value = reader.get(key, (int, float), default)
    if value < 0:
        reader.fail(key, f"must be >= 0, got {value}")
    return float(value)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {int: "a number", float: "a number", str: "a string", list: "a list", dict: "a mapping"}
    return " or ".join(dict.fromkeys(names.get(k, k.__name__) for k in kinds if k is not type(None)))


def _parse(path: Path, raw: Any) -> Catalog:
    top = _Reader(path, "top level", raw)
    start = top.get("partitions_start", (dt.date, str))
    try:
        start = start if isinstance(start, dt.date) else dt.date.fromisoformat(start)
    except ValueError:
        top.fail("partitions_start", f"{start!r} is not a date (YYYY-MM-01)")
    if start.day != 1:
        top.fail("partitions_start", f"{start} must be the first day of a month")

    sources = {}
    for name, body in top.get("sources", dict).items():
        reader = _Reader(path, f"source '{name}'", body)
        reader.identifier("name", name)
        ranges = {}
        for column, bounds in reader.get("value_ranges", dict, {}).items():
            reader.identifier("value_ranges", column)
            if not (isinstance(bounds, list) and len(bounds) == 2):
                reader.fail("value_ranges", f"{column}: must be [min, max] (null for open)")
            ranges[column] = (bounds[0], bounds[1])
        files = reader.get("files", str, None)
        if files is not None and "relation" in body:
            reader.fail("files", "a source reads either a warehouse relation or files, not both")
        rename = reader.get("rename", dict, {})
        for target in rename.values():
            reader.identifier("rename", target)
        if files is not None and not Path(files).is_absolute():
            files = str((path.parent / files).resolve())
        sources[name] = SourceSpec(
            name=name,
            relation="" if files is not None else reader.identifier("relation", pattern=_RELATION),
            files=files,
            rename={str(k): v for k, v in rename.items()},
            value_ranges=ranges,
            required_columns=reader.identifiers("required_columns", ()),
            label_columns=reader.identifiers("label_columns"),
            not_null=reader.identifiers("not_null", ()),
            allowed_values=_allowed_values(reader),
            max_row_count_change=reader.fraction("max_row_count_change", 0.5),
        )
    if not sources:
        top.fail("sources", "declares no source")

    models = {}
    for name, body in top.get("models", dict).items():
        models[name] = _parse_model(path, name, body, sources)
    if not models:
        top.fail("models", "declares no model")
    return Catalog(path=path, partitions_start=start, sources=sources, models=models)


def _parse_model(path: Path, name: str, body: Any, sources: dict[str, SourceSpec]) -> ModelSpec:
    r = _Reader(path, f"model '{name}'", body)
    r.identifier("name", name)
    source_name = r.get("source", str)
    if source_name not in sources:
        r.fail("source", f"unknown source {source_name!r}; declared sources: {sorted(sources)}")
    features = r.identifiers("features")
    if not features:
        r.fail("features", "lists no feature")
    categorical = r.identifiers("categorical_features", ())
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
    for item in r.get("exclusions", list, []):
        er = _Reader(path, f"model '{name}', an exclusion", item)
        exclusions.append(
            Exclusion(
                column=er.identifier("column"),
                equals=er.get("equals", (str, int, float, bool)),
                reason=er.get("reason", str, ""),
            )
        )

    g = _Reader(path, f"model '{name}', gates", r.get("gates", dict))
    gates = Gates(
        min_top_k_overlap=g.fraction("min_top_k_overlap"),
        max_top_k_overlap=g.fraction("max_top_k_overlap", None, allow_none=True),
        min_auc=g.fraction("min_auc"),
        min_pr_auc=g.fraction("min_pr_auc", 0.0),
        max_auc_drop_vs_champion=g.fraction("max_auc_drop_vs_champion", 0.02),
        predicted_rate=_band(g, "predicted_rate"),
        max_psi=_non_negative(g, "max_psi", 0.25),
        list_capacity=g.positive_int("list_capacity"),
    )
    if gates.max_top_k_overlap is not None and gates.max_top_k_overlap < gates.min_top_k_overlap:
        g.fail("max_top_k_overlap", "is below min_top_k_overlap")

    top_fraction = r.fraction("list_top_fraction")
    if top_fraction == 0:
        r.fail("list_top_fraction", "must be above 0")
    params = r.get("params", dict, {})
    for key in params:
        if key in {"seed", "random_state", "nthread", "n_jobs", "enable_categorical"}:
            r.fail("params", f"'{key}' is set by the pipeline (use the model's 'seed' key)")
    owners = r.get("owners", list, [])
    return ModelSpec(
        name=name,
        description=r.get("description", str, f"Customer classification model '{name}'."),
        owners=tuple(owners),
        source=sources[source_name],
        label=label,
        horizon_months=r.positive_int("horizon_months"),
        training_window_months=r.positive_int("training_window_months"),
        features=features,
        categorical_features=categorical,
        params=dict(params),
        seed=r.get("seed", int, 0),
        exclusions=tuple(exclusions),
        list_top_fraction=top_fraction,
        gates=gates,
        label_values=_label_values(r),
    )


def check_against_source(
    catalog: Catalog, source_name: str, columns: set[str], label_columns: set[str] | None = None
) -> None:
    """Every feature, exclusion column and label a model names must exist in its source.

    `columns` are the columns known for the source (live relation and last snapshot);
    `label_columns` those of the live relation (labels never reach a snapshot), None to skip.
    Comparison ignores case (Snowflake upper-cases unquoted names).
    """
    known = {c.lower() for c in columns}
    source = catalog.sources[source_name]
    for model in catalog.models_of_source(source_name):
        where = f"{catalog.path}: model '{model.name}'"
        missing = [f for f in model.features if f.lower() not in known]
        if missing:
            raise CatalogError(
                f"{where}, key 'features': {missing} not in source '{source_name}' ({source.relation or source.files})"
            )
        missing = [e.column for e in model.exclusions if e.column.lower() not in known]
        if missing:
            raise CatalogError(
                f"{where}, key 'exclusions': {missing} not in source '{source_name}' ({source.relation or source.files})"
            )
        if label_columns is not None and model.label.lower() not in {c.lower() for c in label_columns}:
            raise CatalogError(
                f"{where}, key 'label': {model.label!r} not in source '{source_name}' ({source.relation or source.files})"
            )

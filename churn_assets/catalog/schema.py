"""The catalogue's schema: one pydantic model per mapping of `models.yaml`.

Each key is declared once, here: its type and bounds (values.py), default, and the type and
meaning the reference shows (`key`). The same declaration validates a catalogue, generates
docs/catalogue.md and the JSON Schema an editor validates `models.yaml` with. Unknown keys are
refused (`extra="forbid"`); rules between keys are the validators below. A valid catalogue becomes
the frozen specs of specs.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from churn_assets.catalog.errors import Problem, suggestion
from churn_assets.catalog.params import XGBoostParams
from churn_assets.catalog.specs import Catalog, Exclusion, Gates, ModelSpec, SourceSpec
from churn_assets.catalog.values import (
    IDENTIFIER,
    LABEL_UNKNOWN,
    MAX_NAME_LENGTH,
    NAME_RULE,
    AllowedValues,
    Band,
    Boolean,
    Character,
    Column,
    Columns,
    Features,
    FirstOfMonth,
    Fraction,
    LabelValues,
    Name,
    NonNegative,
    OptionalColumn,
    OptionalFraction,
    OptionalText,
    PositiveInt,
    RankBy,
    Relation,
    Rename,
    RowCountChange,
    Scalar,
    Share,
    Text,
    TextList,
    ValueRanges,
    WholeNumber,
    check,
    requiring,
    typed,
)

# Top-level keys starting with this prefix are free: a place for YAML anchors (`x-defaults: &defaults`).
FREE_PREFIX = "x-"


def key(kind: str, doc: str, default: Any = ...) -> Any:
    """A key: `kind` is its type as the reference shows it (the JSON Schema's title), `doc` its
    meaning; without a default it is required."""
    return Field(default, title=kind, description=doc)


class Section(BaseModel):
    """A mapping of the catalogue: only its declared keys, frozen once read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _a_mapping(cls, data: Any) -> Any:
        return typed(data, (dict,))

    def as_kwargs(self) -> dict[str, Any]:
        """Every key's value by name: a spec takes them all, so no declared key goes unread."""
        return {name: getattr(self, name) for name in type(self).model_fields}


class SourceEntry(Section):
    """`sources.<name>`: a warehouse relation or files that follow the source contract."""

    relation: Relation = key(
        "text: table, schema.table or database.schema.table",
        "Warehouse table or view holding one row per customer per month. Give `relation` or `files`.",
        None,
    )
    files: OptionalText = key(
        "text: path or glob",
        "CSV (also .csv.gz, .csv.bz2, .csv.zip, .csv.xz) or Parquet files, relative to the catalogue file, loaded "
        "into the warehouse as `source_<name>` when their content changes. Give `relation` or `files`.",
        None,
    )
    separator: Character = key("text: one character", "Field separator of CSV files (e.g. ';').", ",")
    rename: Rename = key("mapping: file column -> contract column", "E.g. `{customerID: customer_id}`.", {})
    label_columns: Columns = key(
        "list of column names",
        "Outcome columns (NULL until their window closes): read only for training, never copied into a snapshot.",
    )
    required_columns: Columns = key(
        "list of column names",
        "Columns the contract requires besides every model's features and exclusion columns (customer_id and "
        "snapshot_month always are); never a label column.",
        (),
    )
    not_null: Columns = key(
        "list of column names",
        "Columns that must never be NULL (customer_id and every exclusion column always are).",
        (),
    )
    allowed_values: AllowedValues = key("mapping: column -> list of values", "The only values a column may hold.", {})
    value_ranges: ValueRanges = key("mapping: column -> [min, max]", "Inclusive bounds; null leaves a side open.", {})
    max_row_count_change: RowCountChange = key(
        "number > 0, or null",
        "A month's row count may differ from the previous month's by at most this fraction (1.5: between 0 and 2.5 "
        "times); null switches the rule off.",
        0.5,
    )
    may_be_constant: Columns = key(
        "list of column names",
        "Numeric features allowed to hold one value for every customer (otherwise a constant numeric feature fails "
        "the contract once a month has 100+ rows: a feed stuck on a default).",
        (),
    )

    @field_validator("files")
    @classmethod
    def _inside_the_catalogue_folder(cls, files: str | None, info: ValidationInfo) -> str | None:
        """Relative paths stay inside the catalogue's folder (`../../etc/*` is refused); an absolute
        path is taken as meant. The path is resolved against that folder."""
        if files is None or Path(files).is_absolute():
            return files
        folder = Path(info.context["path"]).parent.resolve()
        resolved = (folder / files).resolve()
        if not resolved.is_relative_to(folder):
            raise ValueError(f"{files!r} leads outside the catalogue's folder {folder}; give an absolute path")
        return str(resolved)

    @model_validator(mode="after")
    def _one_origin_and_no_label_required(self) -> SourceEntry:
        if (self.files is None) == (self.relation is None):
            raise Problem(("relation",), "give either a warehouse `relation` or `files`, not both or neither")
        labels = {label.lower() for label in self.label_columns}
        for column in self.required_columns:
            if column.lower() in labels:
                raise Problem(
                    ("required_columns",),
                    f"{column} is a label column; {LABEL_UNKNOWN}, so a snapshot cannot require it",
                )
        return self

    def spec(self, name: str) -> SourceSpec:
        return SourceSpec(name=name, **{**self.as_kwargs(), "relation": self.relation or ""})


class GatesEntry(Section):
    """`models.<name>.gates`: the thresholds of every gate of a model."""

    min_top_k_overlap: Fraction = key(
        "number in [0, 1]",
        "Share of last month's listed customers, still customers now, that are listed again: at least this.",
    )
    max_top_k_overlap: OptionalFraction = key(
        "number in [0, 1], or null",
        "... and at most this (a list that never moves); null: no upper bound.",
        None,
    )
    min_auc: Fraction = key("number in [0, 1]", "Holdout ROC AUC floor for promotion.")
    min_pr_auc: Fraction = key("number in [0, 1]", "Holdout PR AUC floor for promotion.", 0.0)
    min_holdout_positives: PositiveInt = key(
        "integer >= 1",
        "Below this many positive labels in the holdout, the AUC is not judged and the version is not promoted (a "
        "handful of positives gives a meaningless AUC).",
        30,
    )
    max_auc_drop_vs_champion: Fraction = key(
        "number in [0, 1]", "Tolerated AUC drop against the champion, scored on the same holdout.", 0.02
    )
    predicted_rate: Band = key("[min, max], numbers in [0, 1]", "Band of the month's mean predicted probability.")
    max_psi: NonNegative = key("number >= 0", "Population stability index of the scores against last month's.", 0.25)
    list_capacity: PositiveInt = key("integer >= 1", "Most customers the list may hold (what the team can call).")
    min_realised_lift: NonNegative = key(
        "number >= 0",
        "Looking back (warns, never blocks): once its labels have matured, a published list found at least this many "
        "times the base rate of positives among every scored customer (lift; 1 = customers drawn at random).",
        1.5,
    )
    max_feature_psi: NonNegative = key(
        "number >= 0",
        "Looking back (warns, never blocks): population stability index of each feature against last month's "
        "snapshot at most this; the features above it are named, most drifted first.",
        0.25,
    )

    @model_validator(mode="after")
    def _overlap_band(self) -> GatesEntry:
        if self.max_top_k_overlap is not None and self.max_top_k_overlap < self.min_top_k_overlap:
            raise Problem(("max_top_k_overlap",), "is below min_top_k_overlap")
        return self


class ExclusionEntry(Section):
    """`models.<name>.exclusions[]`: customers never scored nor listed."""

    column: Column = key(
        "column name", "A source column, not a label column; it must never be NULL (the contract checks it)."
    )
    equals: Scalar = key(
        "text, number or boolean, of the column's type",
        "Customers whose column equals this are excluded. Its type must match the column's: `true` on a boolean "
        "column, `'cancelled'` on text.",
    )
    reason: Text = key("text", "Why (shown in the gates' metadata).", "")


Exclusions = Annotated[tuple[ExclusionEntry, ...], check(list)]


class ModelEntry(Section):
    """`models.<name>`: one customer classification model."""

    source: Text = key("text: a source name", "The source this model reads (models of one source share its snapshot).")
    label: Column = key("column name", "One of the source's label_columns.")
    label_values: LabelValues = key(
        "mapping: source value -> 1 or 0",
        "How the label maps to 1/0 when the source does not hold 0/1, e.g. `{Yes: 1, No: 0}`. A label value not "
        "listed stops training, naming it.",
        {},
    )
    horizon_months: PositiveInt = key(
        "integer >= 1", "The label of month m is known once months m+1..m+horizon have closed."
    )
    training_window_months: PositiveInt = key(
        "integer >= 1", "Labelled months used for training (the latest one is the holdout)."
    )
    features: Features = key(
        "list of column names",
        "Model inputs; each must exist in the source, and none may be a label column of the source (any model's "
        "label: labels are not known when a month is scored).",
    )
    categorical_features: Columns = key(
        "list of column names", "Features that are categories (text); the others must be numbers.", ()
    )
    params: XGBoostParams = Field(
        {},
        title="mapping: XGBClassifier parameter -> value",
        description="Named parameters of xgboost.XGBClassifier (n_estimators, max_depth, learning_rate, ...); seed, "
        "threads and categorical handling are the pipeline's.",
        validate_default=True,
    )
    seed: WholeNumber = key("integer", "Random seed: same data, params and seed give the same model.", 0)
    refit_on_all_months: Boolean = key(
        "boolean",
        "After evaluation on the holdout, train the version again on every labelled month (holdout included) and "
        "register that artifact; its metrics stay the holdout's.",
        False,
    )
    exclusions: Exclusions = key("list of exclusions", "Customers never scored nor listed.", ())
    list_top_fraction: Share = key(
        "number in (0, 1]", "The published list: this top fraction of eligible customers by score."
    )
    gates: GatesEntry = key("mapping", "Thresholds of every gate (below).")
    value_column: OptionalColumn = key(
        "column name or null",
        "The source's numeric column that carries a customer's value (e.g. monthly charges). Published rows then "
        "carry the value and the expected loss (score x value), and the report the list's value at risk; a NULL "
        "or negative value of a scored customer fails the data contract. Optional: no value is guessed.",
        None,
    )
    rank_by: RankBy = key(
        "score | expected_loss",
        "What orders the published list: the score, or the expected loss (score x value; needs value_column). "
        "The gates judge the ranking that is published.",
        "score",
    )
    description: OptionalText = key("text", "Shown in the UI; defaults to a sentence naming the model.", None)
    owners: TextList = key("list of text", "Owners shown in the UI (e-mails or team:name).", ())

    @model_validator(mode="after")
    def _features_and_label(self) -> ModelEntry:
        stray = [c for c in self.categorical_features if c not in self.features]
        if stray:
            raise Problem(("categorical_features",), f"not listed in features: {stray}")
        if self.label in self.features:
            raise Problem(("label",), f"{self.label!r} is also a feature (that would leak the outcome)")
        if self.rank_by == "expected_loss" and self.value_column is None:
            raise Problem(("rank_by",), "expected_loss needs value_column (the customer's value to multiply by)")
        return self

    def spec(self, name: str, source: SourceSpec) -> ModelSpec:
        return ModelSpec(
            name=name,
            **{
                **self.as_kwargs(),
                "description": self.description or f"Customer classification model '{name}'.",
                "source": source,
                "params": self.params.given(),
                "exclusions": tuple(Exclusion(**rule.as_kwargs()) for rule in self.exclusions),
                "gates": Gates(**self.gates.as_kwargs()),
            },
        )


def _entries(entry: type[Section], kind: str) -> Any:
    """A mapping of names to entries: at least one; names plain, bounded and distinct in any case."""

    def distinct(entries: dict) -> dict:
        seen: dict[str, Any] = {}
        for name in entries:
            twin = seen.setdefault(str(name).lower(), name)
            if twin != name:
                raise ValueError(f"'{name}' and '{twin}' differ only in case (their tables would clash)")
        return requiring(len, f"declares no {kind}")(entries)

    names = {"pattern": IDENTIFIER, "maxLength": MAX_NAME_LENGTH}
    return Annotated[
        dict[Name, entry], Field(min_length=1, json_schema_extra={"propertyNames": names}), check(dict, then=distinct)
    ]


Sources = _entries(SourceEntry, "source")
Models = _entries(ModelEntry, "model")


class CatalogueFile(Section):
    """The whole catalogue file; top-level keys starting with `x-` are free (YAML anchors)."""

    model_config = ConfigDict(
        title="models.yaml: the model catalogue of churn_assets",
        json_schema_extra={"patternProperties": {f"^{FREE_PREFIX}": {}}},
    )

    partitions_start: FirstOfMonth = key(
        "date (YYYY-MM-01)",
        "First monthly partition offered in Dagster (the UI's partitions count from it). Set it to the first month "
        "your source holds.",
    )
    sources: Sources = key(
        "mapping: name -> source",
        f"Relations or files that follow the source contract. Names: {NAME_RULE} (they name tables).",
    )
    models: Models = key(
        "mapping: name -> model",
        f"One entry per model; the name prefixes its asset keys, tables and report folder. Names: {NAME_RULE}.",
    )

    @model_validator(mode="before")
    @classmethod
    def _a_mapping(cls, data: Any) -> Any:
        return {k: v for k, v in typed(data, (dict,)).items() if not str(k).startswith(FREE_PREFIX)}

    @model_validator(mode="after")
    def _models_fit_their_sources(self) -> CatalogueFile:
        for name, model in self.models.items():
            source = self.sources.get(model.source)
            if source is None:
                hint = suggestion(model.source, self.sources, "declared sources")
                raise Problem(("models", name, "source"), f"unknown source {model.source!r}; {hint}")
            if model.label not in source.label_columns:
                raise Problem(
                    ("models", name, "label"),
                    f"{model.label!r} is not one of source '{model.source}' label_columns {list(source.label_columns)}",
                )
        for name in self.models:
            self._refuse_labels_as_inputs(name)
        return self

    def _refuse_labels_as_inputs(self, name: str) -> None:
        """No label column of the model's source (any model's label, in any case) may be a feature or
        an exclusion column: `check` used to pass them and `run` then failed on a missing column."""
        model = self.models[name]
        labels = {label.lower() for label in self.sources[model.source].label_columns}
        owners = {m.label.lower(): n for n, m in self.models.items() if m.source == model.source}

        def refuse(at: tuple, column: str, role: str):
            owner = owners.get(column.lower())
            what = f"the label of model '{owner}'" if owner else f"a label column of source '{model.source}'"
            raise Problem(("models", name, *at), f"{column} is {what}; {LABEL_UNKNOWN}, so {role}")

        for feature in model.features:
            if feature.lower() in labels:
                refuse(("features",), feature, "it cannot be a feature")
        for index, rule in enumerate(model.exclusions):
            if rule.column.lower() in labels:
                refuse(("exclusions", index, "column"), rule.column, "it cannot decide who is excluded")
        if model.value_column and model.value_column.lower() in labels:
            refuse(("value_column",), model.value_column, "it cannot be a customer's value")

    def to_catalog(self, path: Path) -> Catalog:
        sources = {name: entry.spec(name) for name, entry in self.sources.items()}
        models = {name: entry.spec(name, sources[entry.source]) for name, entry in self.models.items()}
        return Catalog(path=path, partitions_start=self.partitions_start, sources=sources, models=models)


# The sections of the reference, in its order.
SECTIONS: dict[str, type[Section]] = {
    "top level": CatalogueFile,
    "sources.<name>": SourceEntry,
    "models.<name>": ModelEntry,
    "models.<name>.gates": GatesEntry,
    "models.<name>.exclusions[]": ExclusionEntry,
}


def json_schema() -> dict[str, Any]:
    """The JSON Schema of `models.yaml` (published as churn_assets/models.schema.json)."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **CatalogueFile.model_json_schema()}

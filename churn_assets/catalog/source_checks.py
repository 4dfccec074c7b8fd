"""The catalogue against a source's real columns: names that exist and values that fit their types.

Run by `churn-assets check` and when the code location loads locally (not part of the schema: they
need the source's columns, which a catalogue file alone does not know).
"""

from __future__ import annotations

from typing import Any

from churn_assets.catalog.errors import CatalogError, nearest
from churn_assets.catalog.specs import Catalog, ModelSpec, SourceSpec, label_text, labels_as_text


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
        named = (
            ("features", model.features),
            ("exclusions", [e.column for e in model.exclusions]),
            ("value_column", [model.value_column] if model.value_column else []),
        )
        for key, names in named:
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
    value = sample.get(model.value_column.lower()) if model.value_column else None
    if value is not None and column_kind(value) == TEXT:
        raise CatalogError(
            f"{where}, key 'value_column': {model.value_column} holds text in the source "
            f"(e.g. {[str(v) for v in value.dropna().unique()[:3]]}); a customer's value must be a number"
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

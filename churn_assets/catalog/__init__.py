"""The model catalogue: ``models.yaml`` read and validated into typed, frozen specs.

Everything that differs between models lives in the catalogue, so adding a model is adding a
YAML entry. The catalogue is strict, because a typo must never change what is published
silently: its schema (schema.py, pydantic models with ``extra="forbid"``) declares every key and
generates docs/catalogue.md and models.schema.json; an unknown key is refused with the nearest
valid one suggested; booleans follow YAML 1.2 (load.py); values are checked against the source's
column types too (source_checks.py). Every error names the file, the model and the key.
"""

from churn_assets.catalog.errors import CatalogError, nearest, suggestion
from churn_assets.catalog.load import CATALOG_ENV_VAR, DEFAULT_CATALOG, catalog_path, load_catalog
from churn_assets.catalog.params import PIPELINE_PARAMS, XGBOOST_PARAMS
from churn_assets.catalog.schema import FREE_PREFIX, SECTIONS, json_schema
from churn_assets.catalog.source_checks import check_against_source
from churn_assets.catalog.specs import Catalog, Exclusion, Gates, ModelSpec, SourceSpec, label_text, labels_as_text
from churn_assets.catalog.values import LABEL_UNKNOWN, MAX_NAME_LENGTH, NAME_RULE

__all__ = [
    "CATALOG_ENV_VAR",
    "DEFAULT_CATALOG",
    "FREE_PREFIX",
    "LABEL_UNKNOWN",
    "MAX_NAME_LENGTH",
    "NAME_RULE",
    "PIPELINE_PARAMS",
    "SECTIONS",
    "XGBOOST_PARAMS",
    "Catalog",
    "CatalogError",
    "Exclusion",
    "Gates",
    "ModelSpec",
    "SourceSpec",
    "catalog_path",
    "check_against_source",
    "json_schema",
    "label_text",
    "labels_as_text",
    "load_catalog",
    "nearest",
    "suggestion",
]

"""The catalogue as the rest of the code sees it: frozen specs of sources, models and their gates.

Built from the validated schema (`schema.py`); callers never see the YAML nor pydantic.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


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
    min_realised_lift: float = 1.5
    """Realised lift a list must reach once its labels matured (`realised_lift`, warns)."""
    max_feature_psi: float = 0.25
    """Largest PSI of a feature against last month's snapshot (`feature_drift`, warns)."""


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
    value_column: str | None = None
    """The source column carrying a customer's value (published with the expected loss), if any."""
    rank_by: str = "score"
    """What orders the published list: "score" or "expected_loss" (score x value)."""

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

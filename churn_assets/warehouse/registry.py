"""The model registry: versions, artifacts and champion promotions, stored in the warehouse.

One store serves every environment because it is just tables in the environment's schema.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import pandas as pd

from churn_assets.warehouse.base import Warehouse

VERSIONS = "model_versions"
PROMOTIONS = "model_promotions"
ALIASES = "model_aliases"
CHAMPION, CHALLENGER = "champion", "challenger"


@dataclass(frozen=True)
class ModelVersion:
    """One trained model as the registry knows it."""

    model: str
    version: int
    trained_for_month: dt.date
    fingerprint: str
    artifact: bytes
    artifact_sha256: str
    metrics: dict[str, Any]
    feature_schema: dict[str, Any]
    training_months: list[str]


def _row_to_version(row: pd.Series) -> ModelVersion:
    return ModelVersion(
        model=row["model"],
        version=int(row["version"]),
        trained_for_month=pd.Timestamp(row["trained_for_month"]).date(),
        fingerprint=row["fingerprint"],
        artifact=bytes(row["artifact"]),
        artifact_sha256=row["artifact_sha256"],
        metrics=json.loads(row["metrics"]),
        feature_schema=json.loads(row["feature_schema"]),
        training_months=json.loads(row["training_months"]),
    )


def find_by_fingerprint(warehouse: Warehouse, model: str, fingerprint: str) -> ModelVersion | None:
    """The version already trained from exactly these inputs, if any (retraining is a no-op)."""
    if warehouse.columns(VERSIONS) is None:
        return None
    rows = warehouse.query(
        f"SELECT * FROM {warehouse.table(VERSIONS)} WHERE model = ? AND fingerprint = ? ORDER BY version LIMIT 1",
        [model, fingerprint],
    )
    return None if rows.empty else _row_to_version(rows.iloc[0])


def register(warehouse: Warehouse, model: str, record: dict[str, Any]) -> int:
    """Store a new version (the next number for this model) and return its number."""
    with warehouse.transaction() as tx:
        version = 1
        if tx.columns(VERSIONS) is not None:
            latest = tx.scalar(f"SELECT max(version) FROM {warehouse.table(VERSIONS)} WHERE model = ?", [model])
            version = (latest or 0) + 1
        row = {"model": model, "version": version, **record, "created_at": pd.Timestamp.now(tz="UTC")}
        tx.append(VERSIONS, pd.DataFrame([row]))
    return version


def promote(warehouse: Warehouse, model: str, version: int, month: dt.date) -> None:
    """Make `version` the champion from `month` on, in one transaction (idempotent per model and month).

    The promotion history and the `champion` alias change together or not at all: an
    interrupted promotion leaves the previous champion in force.
    """
    now = pd.Timestamp.now(tz="UTC")
    with warehouse.transaction() as tx:
        tx.delete(PROMOTIONS, {"model": model, "effective_month": month})
        tx.delete(ALIASES, {"model": model, "alias": CHAMPION})
        tx.append(
            PROMOTIONS,
            pd.DataFrame([{"model": model, "effective_month": month, "version": version, "promoted_at": now}]),
        )
        latest = tx.scalar(
            f"SELECT version FROM {warehouse.table(PROMOTIONS)} WHERE model = ? ORDER BY effective_month DESC LIMIT 1",
            [model],
        )
        tx.append(ALIASES, pd.DataFrame([{"model": model, "alias": CHAMPION, "version": latest, "updated_at": now}]))


def set_alias(warehouse: Warehouse, model: str, alias: str, version: int) -> None:
    """Point `alias` (e.g. challenger) at `version`."""
    row = pd.DataFrame([{"model": model, "alias": alias, "version": version, "updated_at": pd.Timestamp.now(tz="UTC")}])
    warehouse.replace_rows(ALIASES, {"model": model, "alias": alias}, row)


def aliases(warehouse: Warehouse, model: str) -> dict[str, int]:
    """Current aliases of a model's versions, e.g. {"champion": 7, "challenger": 8}."""
    if warehouse.columns(ALIASES) is None:
        return {}
    frame = warehouse.query(f"SELECT alias, version FROM {warehouse.table(ALIASES)} WHERE model = ?", [model])
    return dict(zip(frame["alias"], frame["version"].astype(int)))


def champion_for(warehouse: Warehouse, model: str, month: dt.date) -> ModelVersion | None:
    """The champion in force for `month`: the latest promotion effective at or before it.

    Re-running a past month therefore scores with the model that was champion then, never
    with one trained on later data.
    """
    if warehouse.columns(PROMOTIONS) is None:
        return None
    rows = warehouse.query(
        f"SELECT v.* FROM {warehouse.table(PROMOTIONS)} p "
        f"JOIN {warehouse.table(VERSIONS)} v ON v.model = p.model AND v.version = p.version "
        "WHERE p.model = ? AND p.effective_month <= ? ORDER BY p.effective_month DESC LIMIT 1",
        [model, month],
    )
    return None if rows.empty else _row_to_version(rows.iloc[0])


def version_metrics(warehouse: Warehouse, model: str, version: int) -> dict[str, Any]:
    """The holdout metrics recorded with a version ({} if the version is unknown)."""
    row = warehouse.query(
        f"SELECT metrics FROM {warehouse.table(VERSIONS)} WHERE model = ? AND version = ?", [model, version]
    )
    return json.loads(row["metrics"].iloc[0]) if len(row) else {}


def get_version(warehouse: Warehouse, model: str, version: int) -> ModelVersion:
    """One registered version (KeyError naming it when the registry does not hold it)."""
    rows = warehouse.query(
        f"SELECT * FROM {warehouse.table(VERSIONS)} WHERE model = ? AND version = ?", [model, version]
    )
    if rows.empty:
        raise KeyError(f"the registry holds no version {version} of model '{model}'")
    return _row_to_version(rows.iloc[0])

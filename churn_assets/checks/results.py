"""Turn plain gate results (churn_assets.rules.gates) into Dagster asset check results, and keep
every evaluation in the warehouse table `gate_results` (the monthly report's and the auditors'
record of what was checked, next to the data it judged)."""

import datetime as dt
import json

import pandas as pd
from dagster import AssetCheckResult, AssetCheckSeverity, AssetKey, MetadataValue

from churn_assets.rules.gates import GateResult
from churn_assets.warehouse.lists import GATE_RESULTS


def _metadata_value(value):
    if isinstance(value, (dict, list, tuple)):
        return MetadataValue.json(value)
    if value is None:
        return MetadataValue.null()
    return value


def check_result(
    gate: GateResult, asset_key: AssetKey, severity: AssetCheckSeverity = AssetCheckSeverity.ERROR
) -> AssetCheckResult:
    """A check result whose metadata shows the value, the threshold and what is at fault."""
    metadata = {"value": _metadata_value(gate.value), "threshold": _metadata_value(gate.threshold)}
    metadata.update({key: _metadata_value(v) for key, v in gate.details.items()})
    return AssetCheckResult(
        asset_key=asset_key,
        check_name=gate.name,
        passed=bool(gate.passed),
        severity=severity,
        description=gate.summary,
        metadata=metadata,
    )


def record_gates(warehouse, asset_key: AssetKey, month: dt.date, results: list[AssetCheckResult]) -> None:
    """Replace this asset's gate outcomes for the month in `gate_results`."""
    asset = "/".join(asset_key.path)
    rows = []
    for result in results:
        metadata = {k: getattr(v, "value", v) for k, v in (result.metadata or {}).items()}
        rows.append(
            {
                "asset": asset,
                "month": month,
                "gate": result.check_name,
                "passed": bool(result.passed),
                "severity": result.severity.value,
                "value": json.dumps(metadata.get("value"), default=str),
                "threshold": json.dumps(metadata.get("threshold"), default=str),
                "summary": result.description or "",
                "details": json.dumps(metadata, default=str),
                "evaluated_at": pd.Timestamp.now(tz="UTC"),
            }
        )
    warehouse.replace_rows(GATE_RESULTS, {"asset": asset, "month": month}, pd.DataFrame(rows))

"""Turn plain gate results (churn_assets.rules.gates) into Dagster asset check results."""

from dagster import AssetCheckResult, AssetCheckSeverity, AssetKey, MetadataValue

from churn_assets.rules.gates import GateResult


def _metadata_value(value):
    if isinstance(value, (dict, list, tuple)):
        return MetadataValue.json(value)
    if value is None:
        return MetadataValue.null()
    return value


def check_result(gate: GateResult, asset_key: AssetKey, severity: AssetCheckSeverity = AssetCheckSeverity.ERROR) -> AssetCheckResult:
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

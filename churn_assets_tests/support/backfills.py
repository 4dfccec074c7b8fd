"""Backfills of months through a webserver's GraphQL, launched as the UI launches them, and digests
of what months left in a warehouse, to compare a backfill with `churn-assets run` month by month."""

from __future__ import annotations

import datetime as dt
import hashlib

from churn_assets_tests.support.pipeline import query
from churn_assets_tests.support.services import graphql

# The months the backfill tests seed and backfill.
FIRST, LAST = dt.date(2025, 1, 1), dt.date(2025, 6, 1)
MONTHS = [dt.date(2025, m, 1).isoformat() for m in range(1, 7)]

LAUNCH = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
    ... on UnauthorizedError { message }
    ... on PartitionSetNotFoundError { message }
    ... on InvalidStepError { invalidStepKey }
    ... on InvalidOutputError { stepKey invalidOutputName }
    ... on RunConflict { message }
    ... on ConflictingExecutionParamsError { message }
    ... on PresetNotFoundError { message }
    ... on InvalidSubsetError { message }
  }
}
"""
STATUS = """
query($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { status }
    ... on PythonError { message }
  }
}
"""
ASSETS = "{ assetNodes { assetKey { path } } }"


def launch_backfill(port: int, months: list[str], asset_keys: list[dict]) -> str:
    """A backfill of `months` for `asset_keys`, launched as the UI launches one; its id."""
    launched = graphql(
        port, LAUNCH, {"params": {"partitionNames": months, "assetSelection": asset_keys, "fromFailure": False}}
    )["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    return launched["backfillId"]


def backfill_finished(port: int, backfill_id: str) -> str | None:
    """The backfill's final status, or None while it runs."""
    status = graphql(port, STATUS, {"id": backfill_id})["partitionBackfillOrError"]["status"]
    return status if status not in ("REQUESTED", "CANCELING", "FAILING") else None


# What a month produces that the business or an auditor reads; timestamps of when it happened left out.
DIGESTED = {
    "published_predictions": "SELECT model, month, customer_id, score, rank, model_version FROM churn.{t}",
    "predictions": "SELECT model, month, customer_id, score, rank, model_version FROM churn.{t}",
    "model_versions": "SELECT model, version, trained_for_month, fingerprint, artifact_sha256, metrics, "
    "training_months FROM churn.{t}",
    "model_promotions": "SELECT * EXCLUDE (promoted_at) FROM churn.{t}",
    "model_aliases": "SELECT * EXCLUDE (updated_at) FROM churn.{t}",
    # The months backfilled: a UI backfill also judges, in the months after, the lists it rebuilt
    # (list_outcome of month E depends on the list of E-horizon), which the sequential run did not run.
    "gate_results": "SELECT asset, month, gate, passed, severity, value, threshold, summary, details FROM churn.{t} "
    f"WHERE month <= DATE '{MONTHS[-1]}'",
    "snapshot_manifest": "SELECT source, month, content_hash, row_count FROM churn.{t}",
}


def digests(home) -> dict[str, tuple[int, str]]:
    """Rows and a content hash of each table, independent of row order."""
    result = {}
    for table, sql in DIGESTED.items():
        frame = query(home, sql.format(t=table))
        frame = frame.sort_values(list(frame.columns)).reset_index(drop=True)
        result[table] = (len(frame), hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()[:16])
    return result

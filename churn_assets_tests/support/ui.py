"""The Dagster UI as a user meets it: its GraphQL at a webserver's URL, what the asset page's checks
list shows, and headless Chromium (Debian's package, installed by `make test`) to render pages."""

import json
import shutil
import urllib.request

import pytest


def graphql(url: str, query: str) -> dict:
    request = urllib.request.Request(
        url + "/graphql", data=json.dumps({"query": query}).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        payload = json.loads(response.read())
    assert "errors" not in payload, payload
    return payload["data"]


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("Chromium is not installed: `make test` installs Debian's chromium (make ui-test-deps)")
    return path


CHECK_STATUSES = """query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) { ... on AssetNode {
  assetChecksOrError { ... on AssetChecks { checks { name
    executionForLatestMaterialization { status partition }
    partitionStatuses { __typename ... on AssetCheckTimePartitionStatuses { ranges { startKey endKey status } } }
} } } } } }"""


def shown_status(check: dict) -> str:
    """The status the asset page's checks list shows for a check, as the UI derives it
    (dagster-webserver 1.13: any failed month, then any running, then any skipped, then passed;
    the latest execution only when there are no partition statuses)."""
    execution, ranges = check["executionForLatestMaterialization"], (check["partitionStatuses"] or {}).get("ranges")
    if execution is None:
        return "Not evaluated"
    statuses = {r["status"] for r in ranges or [{"status": execution["status"]}]}
    for status, label in (
        ("FAILED", "Failed"),
        ("EXECUTION_FAILED", "Failed"),
        ("IN_PROGRESS", "Running"),
        ("SKIPPED", "Skipped"),
    ):
        if status in statuses:
            return label
    return "Passed"

"""The dev stack as containers on this machine (`make test-stack`): PostgreSQL, the code server,
the daemon and the webserver, each a container of the one image (`make image`), and every run in
a container of its own (DockerRunLauncher). A 3-month backfill and a month launched through
GraphQL succeed in their own containers with their events in the stack's PostgreSQL, and the
code server is redeployed while the month's run is in flight: the run still completes.

The code location runs the local DuckDB warehouse on a Docker volume (CHURN_ENV=local): Snowflake
is not reachable from these machines; its code path is tested with fakesnow (test_snowflake_dev.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import psycopg2
import pytest

from churn_assets_tests.support.backfills import ASSETS, backfill_finished, launch_backfill
from churn_assets_tests.support.services import REPO, graphql, loaded_locations, webserver_ready

pytestmark = [pytest.mark.stack, pytest.mark.filterwarnings("ignore:Using variable_values:DeprecationWarning")]

ENV = "dev"
WEB_PORT, PG_PORT = 3100, 5433  # deploy/stack.py's ports of dev
LOCATION, REPOSITORY, JOB = f"churn_{ENV}", "__repository__", "all_models_monthly"
# The shipped catalogue starts at 2024-09; seeded months 2024-09 .. 2025-02.
BACKFILLED = ["2024-09-01", "2024-10-01", "2024-11-01"]
MONTH = "2024-12-01"  # the first month churn trains, scores and publishes: a run long enough to redeploy under
SEED = ["churn-assets", "seed", "--customers", "6000", "--end-month", "2025-02"]


def stack(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(REPO / "deploy" / "stack.py"), *args], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True, timeout=300).stdout


def inspect(container: str) -> dict:
    return json.loads(docker("inspect", container))[0]


def wait_until(predicate, timeout: float, what: str, interval: float = 1.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            logs = {name: docker("logs", "--tail", "40", f"churn-{ENV}-{name}") for name in ("daemon", "code-server")}
            pytest.fail(f"{what}: not after {timeout:.0f} s\n" + "\n".join(f"--- {k}\n{v}" for k, v in logs.items()))
        time.sleep(interval)


RUN = """query($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status tags { key value } } } }"""
PARTITION_TAG = "dagster/partition"
SUBMIT = """
mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }
"""


def run_of(run_id: str) -> tuple[str, dict]:
    run = graphql(WEB_PORT, RUN, {"id": run_id})["runOrError"]
    return run["status"], {tag["key"]: tag["value"] for tag in run["tags"]}


@pytest.fixture(scope="module")
def dev_stack(tmp_path_factory):
    image = os.environ.get("CHURN_STACK_IMAGE")
    if not image:
        pytest.fail("CHURN_STACK_IMAGE is not set: run `make test-stack` (it builds the image first)")
    folder = tmp_path_factory.mktemp("stack")
    env_file = folder / "dev.env"
    env_file.write_text("CHURN_ENV=local\nCHURN_HOME=/data\nCHURN_TRAIN_THREADS=1\n")
    # --with-postgres: the instance database is the stack's own PostgreSQL container (port 5433).
    common = ["--env", ENV, "--image", image, "--env-file", str(env_file), "--state", str(folder / "state")]
    common += ["--with-postgres"]
    stack("down", "--env", ENV)  # a stack left by an interrupted earlier run
    try:
        stack("up", *common)
        # The sample business, written into the stack's warehouse volume by the image's own CLI.
        docker("run", "--rm", "--network", "host", "--volume", f"churn-{ENV}-data:/data", "--env-file", str(env_file),
               image, *SEED)  # fmt: skip
        wait_until(lambda: webserver_ready(WEB_PORT), 180, "the webserver")
        wait_until(lambda: loaded_locations(WEB_PORT).get(LOCATION) == "RepositoryLocation", 180, "the code location")
        yield {"image": image, "common": common}
    finally:
        stack("down", "--env", ENV)
        left = docker("ps", "--all", "--quiet", "--filter", f"label=churn/stack={ENV}").split()
        volumes = docker("volume", "ls", "--quiet", "--filter", f"label=churn/stack={ENV}").split()
        assert not left and not volumes, (left, volumes)


CODE_REFERENCES = """{ assetNodes { assetKey { path } metadataEntries { __typename
    ... on CodeReferencesMetadataEntry { codeReferences { __typename ... on UrlCodeReference { url } } } } } }"""


def test_the_ui_links_each_asset_to_its_file_at_the_deployed_commit(dev_stack):
    """`make test-stack` builds the image with GIT_URL (an Azure Repos URL) and this commit."""
    environment = inspect(dev_stack["image"])["Config"]["Env"]
    settings = dict(item.split("=", 1) for item in environment)
    url, commit = settings["CHURN_GIT_URL"], settings["CHURN_GIT_COMMIT"]
    assert url.startswith("https://dev.azure.com/") and len(commit) == 40, (url, commit)
    nodes = graphql(WEB_PORT, CODE_REFERENCES)["assetNodes"]
    links = [
        reference
        for node in nodes
        for entry in node["metadataEntries"]
        if entry["__typename"] == "CodeReferencesMetadataEntry"
        for reference in entry["codeReferences"]
    ]
    assert len(links) == len(nodes) and all(link["__typename"] == "UrlCodeReference" for link in links), links
    assert all(link["url"].startswith(f"{url}?path=/churn_assets/assets/") for link in links), links[0]
    assert all(f"&version=GC{commit}&line=" in link["url"] for link in links), links[0]


def test_the_dev_stack_runs_months_in_their_own_containers_and_survives_a_redeploy(dev_stack):
    image = dev_stack["image"]
    # Every service is a container of the one image, on the host's network.
    for service in ("code-server", "daemon", "webserver"):
        details = inspect(f"churn-{ENV}-{service}")
        assert details["Image"] == image and details["HostConfig"]["NetworkMode"] == "host", service

    # A 3-month backfill, as the UI launches one.
    keys = [node["assetKey"] for node in graphql(WEB_PORT, ASSETS)["assetNodes"]]
    backfill = launch_backfill(WEB_PORT, BACKFILLED, keys)
    # The daemon's backfill tick is Dagster's own 30 s here: each month waits on the one before.
    status = wait_until(lambda: backfill_finished(WEB_PORT, backfill), 600, "the backfill", interval=3)
    assert status == "COMPLETED_SUCCESS", status

    # One month launched through GraphQL, and the code server redeployed while it runs.
    selector = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "jobName": JOB}
    submitted = graphql(
        WEB_PORT,
        SUBMIT,
        {
            "params": {
                "selector": selector,
                "executionMetadata": {"tags": [{"key": "dagster/partition", "value": MONTH}]},
            }
        },
    )["launchRun"]
    assert submitted["__typename"] == "LaunchRunSuccess", submitted
    run_id = submitted["run"]["runId"]
    wait_until(lambda: run_of(run_id)[0] == "STARTED", 300, "the month's run to start", interval=0.5)
    old_server = inspect(f"churn-{ENV}-code-server")["Id"]
    stack("deploy", *dev_stack["common"], "--only", "code-server")
    assert inspect(f"churn-{ENV}-code-server")["Id"] != old_server
    status_after_redeploy = run_of(run_id)[0]
    assert status_after_redeploy == "STARTED", f"the run was not in flight during the redeploy: {status_after_redeploy}"
    wait_until(lambda: run_of(run_id)[0] in ("SUCCESS", "FAILURE", "CANCELED"), 600, "the month's run", interval=2)
    status, tags = run_of(run_id)
    assert status == "SUCCESS", (status, docker("logs", "--tail", "60", tags.get("docker/container_id", "")))
    wait_until(lambda: loaded_locations(WEB_PORT).get(LOCATION) == "RepositoryLocation", 180, "the redeployed location")

    # Every run ran in a container of its own, from the image, and exited cleanly.
    run_containers = docker("ps", "--all", "--quiet", "--filter", f"label=churn/stack={ENV}",
                            "--filter", "label=dagster/run_id").split()  # fmt: skip
    connection = psycopg2.connect(host="127.0.0.1", port=PG_PORT, user="postgres", dbname=f"churn_dagster_{ENV}")
    with connection, connection.cursor() as cursor:
        cursor.execute("SELECT run_id, status FROM runs")
        recorded = dict(cursor.fetchall())
        cursor.execute(
            "SELECT run_id, count(*) FILTER (WHERE dagster_event_type = 'ASSET_MATERIALIZATION'), "
            "count(*) FILTER (WHERE dagster_event_type = 'ASSET_CHECK_EVALUATION') FROM event_logs GROUP BY run_id"
        )
        events = {row[0]: row[1:] for row in cursor.fetchall()}
    connection.close()
    assert run_id in recorded and len(recorded) >= 4, recorded  # 3 backfill runs and the month
    assert len(run_containers) == len(recorded), (run_containers, recorded)
    for recorded_run, status in recorded.items():
        assert status == "SUCCESS", (recorded_run, status)
        container_id = run_of(recorded_run)[1]["docker/container_id"]
        details = inspect(container_id)
        assert details["Image"] == image and details["State"]["ExitCode"] == 0
        assert details["Config"]["Labels"]["dagster/run_id"] == recorded_run
        assert details["HostConfig"]["NetworkMode"] == "host"
        assert events[recorded_run][0] > 0, (recorded_run, events.get(recorded_run))
    assert events[run_id][1] > 0  # the month's gates were evaluated and recorded in PostgreSQL

"""Known fake Snowflake credentials go in; none of their values comes out: not in a log line
(Python logging, stdout, stderr, the servers' output), not in the event log or its metadata, not
in anything the UI shows (GraphQL, the run's debug download). Their variables' names may show.
"""

from __future__ import annotations

import datetime as dt
import gzip
import itertools
import logging
import os
import urllib.request

import pytest

from churn_assets_tests.support.fake_snowflake import (
    FAKE_CREDENTIALS,
    environment_variables,
    fake_snowflake,
    load_source_from_duckdb,
    snowflake_variables,
)
from churn_assets_tests.support.pipeline import seed
from churn_assets_tests.support.services import (
    VENV_BIN,
    Process,
    free_port,
    graphql,
    processes,
    wait_until,
    webserver_ready,
)

pytestmark = [
    pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result:UserWarning"),
    pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince20"),
]

SECRETS = list(FAKE_CREDENTIALS.values())
END = dt.date(2025, 6, 1)
METADATA = """
  __typename label description
  ... on TextMetadataEntry { text } ... on JsonMetadataEntry { jsonString }
  ... on MarkdownMetadataEntry { mdStr } ... on PathMetadataEntry { path } ... on UrlMetadataEntry { url }
"""
UI_QUERIES = {
    "resources": """query($selector: RepositorySelector!) {
        allTopLevelResourceDetailsOrError(repositorySelector: $selector) {
        __typename ... on ResourceDetailsList { results { name description resourceType
          configFields { name description } configuredValues { key value type } } } } }""",
    "assets": """{ assetNodes { assetKey { path } description groupName kinds opNames
        metadataEntries { __METADATA__ } } }""".replace("__METADATA__", METADATA),
    "jobs": """query($selector: RepositorySelector!) { repositoryOrError(repositorySelector: $selector) {
        ... on Repository { jobs { name description tags { key value } }
        schedules { name description cronSchedule } } } }""",
    "runs": """{ runsOrError { ... on Runs { results { runId status runConfigYaml tags { key value } } } } }""",
}
LOGS_QUERY = """query($runId: ID!) { logsForRun(runId: $runId) { __typename ... on EventConnection { events {
    __typename ... on MessageEvent { message level stepKey }
    ... on MaterializationEvent { metadataEntries { __METADATA__ } }
    ... on AssetCheckEvaluationEvent { evaluation { description metadataEntries { __METADATA__ } } }
    ... on ExecutionStepFailureEvent { error { message stack causes { message stack } } }
    ... on RunFailureEvent { error { message stack } }
} } } }""".replace("__METADATA__", METADATA)


def leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


def test_fake_credentials_appear_in_no_log_event_or_ui_field(tmp_path, capfd, caplog):
    import snowflake.connector
    from dagster import DagsterInstance, serialize_value

    from churn_assets.catalog import load_catalog
    from churn_assets.environment import load_environment
    from churn_assets.monthly_run import run_months

    caplog.set_level(logging.DEBUG)  # every logger, every level
    seed(tmp_path, customers=3000, months=6, end_month=END)  # enough positives to judge the first holdout
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    instance = DagsterInstance.local_temp(str(dagster_home))
    catalog = load_catalog()

    with fake_snowflake(), environment_variables(snowflake_variables("dev")):
        load_source_from_duckdb(tmp_path / "warehouse.duckdb")
        # Every month, with Dagster's full event log on the console.
        report = run_months(catalog, load_environment(), instance, models=["churn"], verbose=True, echo=print)
        assert report.all_succeeded
        used = snowflake.connector.connect.call_args.kwargs
        assert used["password"] == FAKE_CREDENTIALS["CHURN_SNOWFLAKE_PASSWORD"]  # the secrets were really used

        # A failing connection whose message quotes every credential (the worst a driver could do).
        fake = snowflake.connector.connect.side_effect
        calls = itertools.count()

        def refusing(*args, **kwargs):
            if next(calls) == 0:  # listing the source's months still works; the run's steps do not
                return fake(*args, **kwargs)
            raise snowflake.connector.errors.DatabaseError(
                msg="250001: Failed to connect to {}.snowflakecomputing.com as {} with password {}".format(*SECRETS),
                errno=250001,
            )

        snowflake.connector.connect.side_effect = refusing
        try:
            failed = run_months(
                catalog, load_environment(), instance, models=["churn"], first=END, last=END, verbose=True, echo=print
            )
        finally:
            snowflake.connector.connect.side_effect = fake
        assert not failed.all_succeeded
        assert "cannot connect to Snowflake database CHURN_TEST" in (failed.months[0].models[0].error or "") + str(
            failed.months[0].contract
        )

    captured = capfd.readouterr()
    texts = {"stdout": captured.out, "stderr": captured.err, "logging": caplog.text}
    texts["logging records"] = "\n".join(f"{r.getMessage()} {r.args}" for r in caplog.records)
    runs = instance.get_runs()
    assert len(runs) == len(report.months) + 1
    for run in runs:
        texts[f"run {run.run_id}"] = serialize_value(run)
        texts[f"events {run.run_id}"] = "\n".join(serialize_value(record) for record in instance.all_logs(run.run_id))
    assert "cannot connect to Snowflake" in texts[f"events {failed.months[0].run_id}"]  # the failure is recorded...
    assert "***" in texts[f"events {failed.months[0].run_id}"]  # ...with the credentials masked
    assert {name: leaks(text) for name, text in texts.items() if leaks(text)} == {}

    # What the UI shows for the same instance and the same code location (CHURN_ENV=dev).
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHURN_", "DAGSTER_"))}
    env.update({k: v for k, v in snowflake_variables("dev").items() if v is not None})
    env.update(DAGSTER_HOME=str(dagster_home), CHURN_HOME=str(tmp_path))
    logs = tmp_path / "logs"
    logs.mkdir()
    with processes(logs) as started:
        started.append(
            Process(
                "webserver",
                [str(VENV_BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-m", "churn_assets"],
                env,
                logs,
            )
        )
        wait_until(lambda: webserver_ready(port), 120, "the webserver", started)
        selector = {"repositoryLocationName": "churn_assets", "repositoryName": "__repository__"}
        ui = {}
        ui["resources"] = wait_until(
            lambda: (
                lambda d: d if d["allTopLevelResourceDetailsOrError"]["__typename"] == "ResourceDetailsList" else None
            )(graphql(port, UI_QUERIES["resources"], {"selector": selector})),
            120,
            "the code location",
            started,
        )
        for name in ("assets", "jobs", "runs"):
            ui[name] = graphql(port, UI_QUERIES[name], {"selector": selector})
        for run in runs:
            ui[f"logs {run.run_id}"] = graphql(port, LOGS_QUERY, {"runId": run.run_id})
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/download_debug/{run.run_id}", timeout=30) as response:
                ui[f"debug file {run.run_id}"] = gzip.decompress(response.read()).decode()
        server_output = started[0].output()

    resource = next(
        r for r in ui["resources"]["allTopLevelResourceDetailsOrError"]["results"] if r["name"] == "warehouse"
    )
    configured = {v["key"]: (v["type"], v["value"]) for v in resource["configuredValues"]}
    assert configured["password"] == ("ENV_VAR", "CHURN_SNOWFLAKE_PASSWORD")
    assert configured["account"] == ("ENV_VAR", "CHURN_SNOWFLAKE_ACCOUNT")
    assert configured["user"] == ("ENV_VAR", "CHURN_SNOWFLAKE_USER")
    assert configured["schema_name"] == ("VALUE", '"CHURN_DEV"')  # values are shown JSON-encoded
    assert len(ui["runs"]["runsOrError"]["results"]) == len(runs)
    assert any(
        "cannot connect to Snowflake" in text
        for name, text in map(lambda kv: (kv[0], str(kv[1])), ui.items())
        if name.startswith("logs")
    )
    assert {name: leaks(str(text)) for name, text in ui.items() if leaks(str(text))} == {}
    assert leaks(server_output) == []

"""deploy/helm/ against the official `dagster` Helm chart's values schema, offline.

Helm validates the merged values (chart defaults, then each -f file in turn) against the chart's
values.schema.json before it renders anything. This does the same with the schema and defaults
vendored from the chart (deploy/helm/README.md says from which commit). No helm, no cluster.
"""

import copy
import functools
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

HELM = Path(__file__).resolve().parents[2] / "deploy" / "helm"
ENVS = ["dev", "prod"]
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# The chart names each code server's Kubernetes Service after it: an RFC 1035 label.
SERVICE_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def merge(base, override):
    """Helm's merge of values: maps merge key by key, anything else (lists too) is replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    return copy.deepcopy(override)


def without_remote_refs(node):
    """The schema's Kubernetes types (probes, affinity, env sources...) $ref kubernetes-json-schema
    on the network. Offline, those refs are dropped; the type the chart writes beside each remains."""
    if isinstance(node, dict):
        return {
            key: without_remote_refs(value)
            for key, value in node.items()
            if not (key == "$ref" and value.startswith("http"))
        }
    if isinstance(node, list):
        return [without_remote_refs(item) for item in node]
    return node


@functools.cache
def load_yaml(name):
    return yaml.load((HELM / name).read_text(), Loader=Loader)


def values(env):
    """What `helm -f values.yaml -f values-<env>.yaml` hands to the chart."""
    merged = merge(load_yaml("dagster-chart-values.defaults.yaml"), load_yaml("values.yaml"))
    return merge(merged, load_yaml(f"values-{env}.yaml"))


@pytest.fixture(scope="module")
def validator():
    schema = without_remote_refs(json.loads((HELM / "dagster-chart-values.schema.json").read_text()))
    # The chart's schema (pydantic 2) names no $schema; pydantic writes JSON Schema 2020-12.
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    cls.check_schema(schema)
    return cls(schema)


def code_server(env):
    (deployment,) = values(env)["dagster-user-deployments"]["deployments"]
    return deployment


def test_the_vendored_chart_defaults_match_the_vendored_schema(validator):
    validator.validate(load_yaml("dagster-chart-values.defaults.yaml"))


@pytest.mark.parametrize("env", ENVS)
def test_merged_values_validate_against_the_chart_schema(validator, env):
    validator.validate(values(env))


def test_dev_and_prod_are_separate_instances_and_locations():
    dev, prod = values("dev"), values("prod")
    assert dev["postgresql"]["postgresqlDatabase"] == "churn_dagster_dev"
    assert prod["postgresql"]["postgresqlDatabase"] == "churn_dagster_prod"
    locations = {env: v["dagsterWebserver"]["workspace"]["servers"][0]["name"] for env, v in zip(ENVS, (dev, prod))}
    assert locations == {"dev": "churn_dev", "prod": "churn_prod"}
    for env in ENVS:
        assert {"name": "CHURN_ENV", "value": env} in code_server(env)["env"]
        assert code_server(env)["envSecrets"] == [{"name": f"churn-snowflake-{env}"}]


@pytest.mark.parametrize("env", ENVS)
def test_the_workspace_reaches_the_code_server_the_chart_creates(env):
    deployment = code_server(env)
    (server,) = values(env)["dagsterWebserver"]["workspace"]["servers"]
    assert SERVICE_NAME.match(deployment["name"]), "Kubernetes would refuse the Service name"
    assert (server["host"], server["port"]) == (deployment["name"], deployment["port"]) == (f"churn-{env}", 4000)
    assert deployment["codeServerArgs"] == ["--module-name", "churn_assets"]


@pytest.mark.parametrize("env", ENVS)
def test_the_code_location_image_is_pinned_by_digest(env):
    image = code_server(env)["image"]
    assert image["repository"] == "churnacr.azurecr.io/churn-assets"
    assert DIGEST.match(image["digest"])
    assert image.get("tag") is None  # nothing for a tag to override


@pytest.mark.parametrize("env", ENVS)
def test_runs_are_kubernetes_jobs_queued_one_per_month(env):
    v = values(env)
    assert v["runLauncher"]["type"] == "K8sRunLauncher"
    queue = v["dagsterDaemon"]["runCoordinator"]
    assert queue["enabled"] and queue["type"] == "QueuedRunCoordinator"
    assert queue["config"]["queuedRunCoordinator"]["maxConcurrentRuns"] == 4
    limits = queue["config"]["queuedRunCoordinator"]["tagConcurrencyLimits"]
    for key in ("churn/env", "dagster/partition"):
        assert {"key": key, "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in limits
    # The chart refuses to render run limits set both here and in its top-level `concurrency` block.
    assert v["concurrency"]["enabled"] is False


@pytest.mark.parametrize("env", ENVS)
def test_instance_settings(env):
    v = values(env)
    assert v["postgresql"]["enabled"] is False and v["generatePostgresqlPasswordSecret"] is False
    assert v["dagsterDaemon"]["runMonitoring"]["enabled"] is True
    assert v["telemetry"]["enabled"] is False
    assert v["computeLogManager"]["type"] == "NoOpComputeLogManager"
    assert v["dagsterWebserver"]["enableReadOnly"] is False


def _set(path, value):
    def mutate(v):
        *parents, last = path
        for key in parents:
            v = v[key]
        v[last] = value

    return mutate


@pytest.mark.parametrize(
    "mutate",
    [
        _set(["runLauncher", "type"], "Bogus"),
        # A plausible slip for enableReadOnly: the webserver section takes no unknown key.
        _set(["dagsterWebserver", "readOnly"], False),
        _set(["dagsterDaemon", "runCoordinator", "config", "queuedRunCoordinator", "maxConcurrentRuns"], "four"),
    ],
    ids=["unknown-run-launcher", "unknown-webserver-key", "non-integer-run-limit"],
)
def test_the_schema_check_can_fail(validator, mutate):
    broken = copy.deepcopy(values("dev"))
    mutate(broken)
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(broken)

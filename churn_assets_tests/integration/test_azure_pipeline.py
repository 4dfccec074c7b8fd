"""azure-pipelines.yml: valid against Azure's published schema, stages and branch rules as
designed, every script step a Makefile target, and the pipeline's local-capable steps run here,
in the pipeline's order, in a copy of the repository (so its dist/ and results stay there).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess

import pytest
import yaml

from churn_assets_tests.support.pipeline import run_pipeline, seed
from churn_assets_tests.support.postgres import PG
from churn_assets_tests.support.services import REPO, VENV_BIN

PIPELINE = REPO / "azure-pipelines.yml"
STAGES = ["Tests", "Build", "Train", "Validation", "Deploy"]
# Need what only the pipeline's agents have (the registry, an environment's Docker host): dry run.
# (`make test-stack` builds the image and runs deploy/stack.py's deploy for real.)
REMOTE_TARGETS = {"image", "push-image", "promote-image", "deploy"}
OUTPUT = re.compile(r"^##vso\[task\.setvariable variable=(\w+);isOutput=true\](.*)$", re.M)
STAGE_OUTPUT = re.compile(r"^\$\[ stageDependencies\.(\w+)\.(\w+)\.outputs\['(\w+)\.(\w+)'\] \]$")
# What the registry answers for the pushed (dev) and the promoted (prod, main) image: one digest.
IMAGE_DIGEST = "churnacr.azurecr.io/churn-assets@sha256:" + "ab" * 32
# This very suite: running it from inside itself would recurse. Dry run.
RECURSIVE_TARGETS = {"test-integration"}
# `make install` creates .venv only when setup.py is newer than this marker; here the venv exists.
INSTALLED = ".venv/bin/.installed"
SECRET_VARIABLES = (
    "CHURN_SNOWFLAKE_PASSWORD",
    "CHURN_SNOWFLAKE_PRIVATE_KEY",
    "CHURN_SNOWFLAKE_PRIVATE_KEY_PASSWORD",
    "DAGSTER_POSTGRES_PASSWORD",
)


def pipeline() -> dict:
    return yaml.safe_load(PIPELINE.read_text())


def stage(name: str) -> dict:
    return next(s for s in pipeline()["stages"] if s["stage"] == name)


def job(stage_name: str, name: str) -> dict:
    return next(j for j in stage(stage_name)["jobs"] if j.get("job", j.get("deployment")) == name)


def steps_of(job_definition: dict) -> list[dict]:
    if "steps" in job_definition:
        return job_definition["steps"]
    return job_definition["strategy"]["runOnce"]["deploy"]["steps"]


def script_steps() -> list[tuple[str, str, dict, str]]:
    """(stage, job, step, command) of every step that runs a shell command, in pipeline order."""
    found = []
    for s in pipeline()["stages"]:
        for j in s["jobs"]:
            for step in steps_of(j):
                command = step.get("script") or step.get("bash")
                if step.get("task", "").startswith("AzureCLI@"):
                    command = step["inputs"]["inlineScript"]
                if command is not None:
                    found.append((s["stage"], j.get("job", j.get("deployment")), step, command.strip()))
    return found


def make(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`make ARGS` in this checkout (its venv taken as installed), output captured."""
    return subprocess.run(
        ["make", "--no-print-directory", "-o", INSTALLED, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def make_targets(command: str) -> list[str]:
    match = re.fullmatch(r"make((?: [a-z][a-z0-9-]*)+)", command)
    assert match, f"script step {command!r} is not `make <targets>`"
    return match.group(1).split()


def test_pipeline_validates_against_azures_published_schema():
    checker = VENV_BIN / "check-jsonschema"
    assert checker.exists(), "check-jsonschema is missing: it belongs to the test extra (pip install -e '.[test]')"
    result = subprocess.run(
        [
            str(checker),
            "--builtin-schema",
            "vendor.azure-pipelines",
            "--data-transform",
            "azure-pipelines",
            "--regex-variant",
            "nonunicode",
            "azure-pipelines.yml",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_stages_in_order_with_their_branches():
    stages = pipeline()["stages"]
    assert [s["stage"] for s in stages] == STAGES
    assert stage("Build")["dependsOn"] == "Tests"
    assert stage("Train")["dependsOn"] == "Build"
    assert stage("Validation")["dependsOn"] == "Train"
    assert set(stage("Deploy")["dependsOn"]) == {"Build", "Validation"}
    # Build only for pushes to dev, prod and main; Train and Validation on dev and prod.
    build = stage("Build")["condition"]
    assert "isPullRequest, 'false'" in build and all(f"is{b}, 'true'" in build for b in ("Dev", "Prod", "Main"))
    train = stage("Train")["condition"]
    assert "isDev, 'true'" in train and "isProd, 'true'" in train and "isMain" not in train
    # dev deploys without a person; prod waits on its environment's approval; main archives.
    dev, prod, archive = job("Deploy", "deploy_dev"), job("Deploy", "deploy_prod"), job("Deploy", "archive")
    assert (dev["environment"]["name"], dev["condition"]) == ("churn-dev", "eq(variables.isDev, 'true')")
    assert (prod["environment"]["name"], prod["condition"]) == ("churn-prod", "eq(variables.isProd, 'true')")
    assert archive["condition"] == "eq(variables.isMain, 'true')"
    assert any(s.get("task", "").startswith("PublishPipelineArtifact") for s in steps_of(archive))
    # Train materialises in dev; Validation reads prod's prior month, then validates dev's month.
    envs = {command: step.get("env", {}) for _, _, step, command in script_steps()}
    assert envs["make instance-home train champion-version"]["CHURN_ENV"] == "dev"
    assert envs["make reference-predictions"]["CHURN_ENV"] == "prod"
    assert envs["make validate"]["CHURN_ENV"] == "dev"


def test_prod_deploys_only_after_a_succeeded_validation():
    condition = stage("Deploy")["condition"]
    # A skipped Validation is accepted for main alone (it trains nothing and deploys nothing).
    assert "or(eq(dependencies.Validation.result, 'Succeeded'), and(eq(variables.isMain, 'true'), " in condition
    assert (
        condition.count("Skipped") == 1 and "and(eq(variables.isMain, 'true'), eq(dependencies.Validation" in condition
    )


def test_one_image_built_on_dev_and_promoted_by_digest():
    steps = {step.get("name"): step for step in steps_of(job("Build", "build")) if "script" in step}
    assert steps["built"]["script"] == "make image push-image" and "isDev, 'true'" in steps["built"]["condition"]
    assert steps["promoted"]["script"] == "make promote-image"
    assert "ne(variables.isDev, 'true')" in steps["promoted"]["condition"]
    # dev deploys what it built; prod and main what was promoted: one digest, never a rebuild.
    refs = {
        name: next(v["value"] for v in job("Deploy", name)["variables"] if v.get("name") == "IMAGE_REF")
        for name in ("deploy_dev", "deploy_prod", "archive")
    }
    assert refs["deploy_dev"] == "$[ stageDependencies.Build.build.outputs['built.IMAGE_REF'] ]"
    assert refs["deploy_prod"] == refs["archive"] == "$[ stageDependencies.Build.build.outputs['promoted.IMAGE_REF'] ]"
    dry = make("-n", "promote-image", "push-image", "IMAGE=registry.example/churn-assets")
    tree = subprocess.run(["git", "rev-parse", "HEAD^{tree}"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    assert f"docker pull --quiet registry.example/churn-assets:tree-{tree}" in dry.stdout
    assert f"docker push --quiet registry.example/churn-assets:tree-{tree}" in dry.stdout
    assert "RepoDigests" in dry.stdout


def test_each_environment_deploys_with_its_own_variables_and_service_connection():
    connections = {}
    for name, env in (("deploy_dev", "dev"), ("deploy_prod", "prod")):
        deployment = job("Deploy", name)
        assert {"group": f"churn-{env}"} in deployment["variables"]
        (login,) = [s for s in steps_of(deployment) if s.get("task", "").startswith("Docker@")]
        connections[env] = login["inputs"]["containerRegistry"]
        (deploy,) = [s for s in steps_of(deployment) if s.get("script") == "make deploy"]
        assert deploy["env"]["DEPLOY_ENV"] == env
    assert connections == {"dev": "churn-acr-dev", "prod": "churn-acr-prod"}
    # The deploy migrates the instance and replaces code server, daemon and webserver.
    dry = make("-n", "deploy", "DEPLOY_ENV=prod", "IMAGE_REF=r/churn-assets@sha256:ab").stdout
    assert (
        "deploy/stack.py deploy --env prod --image r/churn-assets@sha256:ab --env-file /etc/churn-assets/prod.env"
        in dry
    )


def test_train_records_in_the_environments_instance_outside_the_checkout():
    (step,) = [step for _, _, step, command in script_steps() if "train" in make_targets(command)]
    assert make_targets(step["script"])[0] == "instance-home"
    home = step["env"]["DAGSTER_HOME"]
    assert home.startswith("$(Agent.TempDirectory)") and "SourcesDirectory" not in home
    assert all(step["env"][v] == f"$({v})" for v in ("DAGSTER_POSTGRES_HOST", "DAGSTER_POSTGRES_DB"))


def test_month_and_model_version_are_computed_once_and_passed_on():
    train_steps = {s.get("name"): s for s in steps_of(job("Train", "train")) if "script" in s}
    assert train_steps["month"]["script"] == "make pipeline-month"
    assert train_steps["registered"]["env"]["MONTH"] == "$(month.MONTH)"
    variables = {v["name"]: v["value"] for v in job("Validation", "validation")["variables"] if "name" in v}
    assert variables == {
        "MONTH": "$[ stageDependencies.Train.train.outputs['month.MONTH'] ]",
        "PRIOR_MONTH": "$[ stageDependencies.Train.train.outputs['month.PRIOR_MONTH'] ]",
        "VAL_MODEL_VERSION": "$[ stageDependencies.Train.train.outputs['registered.MODEL_VERSION'] ]",
    }
    (validate,) = [s for s in steps_of(job("Validation", "validation")) if s.get("script") == "make validate"]
    assert validate["env"]["VAL_MODEL_VERSION"] == "$(VAL_MODEL_VERSION)"
    # Without a version, validate refuses instead of skipping the check.
    result = make("validate", "VAL_MODEL_VERSION=")
    assert result.returncode != 0 and "set VAL_MODEL_VERSION" in result.stderr


def test_junit_results_are_published_even_when_tests_fail():
    published = {}
    for s in pipeline()["stages"]:
        for j in s["jobs"]:
            for step in steps_of(j):
                if step.get("task", "").startswith("PublishTestResults@"):
                    assert step["condition"] == "succeededOrFailed()"
                    assert step["inputs"]["testResultsFormat"] == "JUnit"
                    published[step["inputs"]["testResultsFiles"]] = s["stage"]
    assert published == {
        "test-results-unit.xml": "Tests",
        "test-results-integration.xml": "Tests",
        "validation_test_results.xml": "Validation",
    }


def test_triggers_and_pull_request_rules(tmp_path):
    spec = pipeline()
    assert spec["trigger"]["branches"]["include"] == ["feat/*", "dev", "prod", "main"]
    assert spec["pr"]["branches"]["include"] == ["dev", "prod", "main"]
    flow = job("Tests", "branch_flow")
    assert flow["condition"] == "eq(variables.isPullRequest, 'true')"
    assert [s.get("script") for s in steps_of(flow) if "script" in s] == ["make check-branch-flow"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    for source, target, allowed in [
        ("feat/new-model", "dev", True),
        ("dev", "prod", True),
        ("prod", "main", True),
        ("feat/new-model", "prod", False),
        ("feat/new-model", "main", False),
        ("dev", "main", False),
        ("prod", "dev", False),
        ("hotfix/x", "prod", False),
    ]:
        result = subprocess.run(
            ["make", "--no-print-directory", "check-branch-flow"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            env={**env, "SOURCE_BRANCH": f"refs/heads/{source}", "TARGET_BRANCH": f"refs/heads/{target}"},
        )
        assert (result.returncode == 0) is allowed, (source, target, result.stdout, result.stderr)


def test_secrets_come_from_pipeline_variables_only():
    text = PIPELINE.read_text()
    for _, _, step, _ in script_steps():
        for name, value in step.get("env", {}).items():
            if name in SECRET_VARIABLES or "PASSWORD" in name:
                assert re.fullmatch(r"\$\([A-Za-z_.]+\)", str(value)), (
                    f"{name} must come from a secret variable, not {value!r}"
                )
    assert "CHURN_SNOWFLAKE_PASSWORD:" not in text  # key pair (secure files) in the pipeline
    assert text.count("DownloadSecureFile@1") >= 3


def test_every_script_step_is_a_makefile_target(tmp_path):
    steps = script_steps()
    assert len(steps) >= 10
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "CHURN_", "DAGSTER_"))}
    for stage_name, job_name, _, command in steps:
        for target in make_targets(command):
            # A dry run: the target exists and its recipe expands (it runs nothing).
            result = make("-n", target, env=env)
            assert result.returncode == 0, f"{stage_name}/{job_name}: `make {target}`: {result.stderr.strip()}"


@pytest.fixture
def repository_copy(tmp_path):
    """The working tree in a scratch folder, sharing this checkout's virtualenv."""
    copy = tmp_path / "repo"
    ignore = shutil.ignore_patterns(
        ".git",
        ".venv",
        ".churn",
        "dist",
        "build",
        "__pycache__",
        ".pytest_cache",
        "*.egg-info",
        "test-results*.xml",
        "validation_test_results.xml",
    )
    shutil.copytree(REPO, copy, ignore=ignore)
    (copy / ".venv").symlink_to(REPO / ".venv")
    return copy


def resolve(value: str, job_variables: dict, step_outputs: dict) -> str | None:
    """A step's env value as the agent would see it: `$(step.VAR)` an output of an earlier step of the
    job, `$(VAR)` a job variable (set from another stage's output); None for a secret or anything
    only the agents have."""
    match = re.fullmatch(r"\$\((\w+)\.(\w+)\)", value)
    if match and match.group(1) in step_outputs:
        return step_outputs[match.group(1)][match.group(2)]
    match = re.fullmatch(r"\$\((\w+)\)", value)
    if match and match.group(1) in job_variables:
        return job_variables[match.group(1)]
    return None if "$(" in value else value


def test_local_capable_steps_run_in_pipeline_order(tmp_path, repository_copy, monkeypatch, postgres_database):
    from churn_assets.rules.months import add_months

    # One model keeps this quick; the catalogue file is the team's, restricted by CHURN_MODELS.
    catalogue = yaml.safe_load((REPO / "churn_assets" / "models.yaml").read_text())
    catalogue["models"] = {"churn": catalogue["models"]["churn"]}
    models = tmp_path / "models.yaml"
    models.write_text(yaml.safe_dump(catalogue, sort_keys=False))
    monkeypatch.setenv("CHURN_MODELS", str(models))

    # The dev warehouse as the Train stage finds it: history up to last month already run. The
    # month is pinned (MONTH=, as a developer passes it to `make pipeline-month`) so the sample
    # business is the known one; every later step gets it from that step's output only.
    month = dt.date(2025, 6, 1)
    churn_home = tmp_path / "churn"
    churn_home.mkdir()
    seed(churn_home, customers=3000, months=6, end_month=month)  # enough positives to judge the first holdout
    assert run_pipeline(churn_home, last=add_months(month, -1)).all_succeeded

    local = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "CHURN_", "DAGSTER_", "MONTH"))}
    local.update(
        CHURN_HOME=str(churn_home),
        CHURN_TRAIN_THREADS=os.environ.get("CHURN_TRAIN_THREADS", "1"),
        IMAGE="churn-assets",
        TAG="local",
    )
    # dev's instance as the Train agent reaches it: PostgreSQL (a database of its own here).
    instance_settings = {
        "DAGSTER_POSTGRES_HOST": PG["host"],
        "DAGSTER_POSTGRES_PORT": str(PG["port"]),
        "DAGSTER_POSTGRES_USER": PG["user"],
        "DAGSTER_POSTGRES_PASSWORD": PG["password"] or "unused",
        "DAGSTER_POSTGRES_DB": postgres_database,
    }
    pull_request = {"SOURCE_BRANCH": "refs/heads/feat/local", "TARGET_BRANCH": "refs/heads/dev"}

    ran, dry, outputs = [], [], {}
    for s in pipeline()["stages"]:
        for j in s["jobs"]:
            name = j.get("job", j.get("deployment"))
            job_variables = {}
            for variable in j.get("variables", []):
                produced = STAGE_OUTPUT.match(str(variable.get("value", "")))
                if produced and produced.groups()[:3] in outputs:
                    job_variables[variable["name"]] = outputs[produced.groups()[:3]].get(produced.group(4))
            step_outputs = {}
            for step in steps_of(j):
                command = step.get("script")
                if command is None:
                    continue
                env = dict(local)
                for variable, value in step.get("env", {}).items():
                    if variable == "CHURN_ENV":
                        env[variable] = "local"  # dev and prod are Snowflake; here the local warehouse stands in
                    elif variable in pull_request:
                        env[variable] = pull_request[variable]
                    elif variable == "DAGSTER_HOME":
                        env[variable] = str(tmp_path / "agent_temp" / "dagster_home")
                    elif variable in instance_settings:
                        env[variable] = instance_settings[variable]
                    elif (resolved := resolve(str(value), job_variables, step_outputs)) is not None:
                        env[variable] = resolved
                stdout = ""
                for target in make_targets(command):
                    if not target.startswith("test-"):  # the test suites check the shipped catalogue itself
                        env["CHURN_MODELS"] = str(models)
                    if target == "pipeline-month":
                        env["MONTH"] = f"{month:%Y-%m}"
                    dry_run = target in REMOTE_TARGETS | RECURSIVE_TARGETS
                    args = ["make", "--no-print-directory", "-o", INSTALLED] + (["-n"] if dry_run else []) + [target]
                    result = subprocess.run(
                        args, cwd=repository_copy, env=env, capture_output=True, text=True, timeout=600
                    )
                    where = f"{s['stage']}/{name}: make {target}"
                    assert result.returncode == 0, f"{where} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
                    (dry if dry_run else ran).append((target, result.stdout, env))
                    stdout += result.stdout if not dry_run else ""
                    if dry_run and target in ("push-image", "promote-image"):
                        # The registry is not reachable here: the step's output as it would print it.
                        stdout += f"##vso[task.setvariable variable=IMAGE_REF;isOutput=true]{IMAGE_DIGEST}\n"
                if step.get("name"):
                    step_outputs[step["name"]] = dict(OUTPUT.findall(stdout))
                    outputs[(s["stage"], name, step["name"])] = step_outputs[step["name"]]

    ran_targets = [t for t, _, _ in ran]
    assert ran_targets == [
        "check-branch-flow",
        "install",
        "lint",
        "validate-defs",
        "test-unit",
        "install",
        "install",
        "check-sources",
        "install",
        "wheel",
        "install",
        "pipeline-month",
        "instance-home",
        "train",
        "champion-version",
        "install",
        "reference-predictions",
        "validate",
        "install",
        "release",
    ], ran_targets
    assert [t for t, _, _ in dry] == ["test-integration", "image", "push-image", "promote-image", "deploy", "deploy"]

    # Each environment deploys the one image Build pushed or promoted, by digest.
    deploys = [(out, env) for t, out, env in dry if t == "deploy"]
    for (out, env), environment in zip(deploys, ["dev", "prod"], strict=True):
        assert env["IMAGE_REF"] == IMAGE_DIGEST and env["DEPLOY_ENV"] == environment
        assert f"deploy/stack.py deploy --env {environment} --image {IMAGE_DIGEST}" in out, out

    # The month was computed once and reached Train and Validation through output variables.
    assert outputs[("Train", "train", "month")] == {
        "MONTH": f"{month:%Y-%m}",
        "PRIOR_MONTH": f"{add_months(month, -1):%Y-%m}",
    }
    by_target = {t: (out, env) for t, out, env in ran}
    assert by_target["train"][1]["MONTH"] == by_target["validate"][1]["MONTH"] == f"{month:%Y-%m}"
    # Validation checked the version Train registered as champion for the month.
    version = outputs[("Train", "train", "registered")]["MODEL_VERSION"]
    assert version.isdigit() and by_target["validate"][1]["VAL_MODEL_VERSION"] == version
    assert f"--val-model-version={version}" in by_target["validate"][0]

    # What each ran step left behind, as the pipeline's next tasks expect it.
    assert (repository_copy / "test-results-unit.xml").exists()
    assert (repository_copy / "validation_test_results.xml").exists()
    wheels = list((repository_copy / "dist").glob("churn_assets-*.whl"))
    assert len(wheels) == 1
    release = repository_copy / "dist" / "release"
    assert (
        (release / wheels[0].name).exists()
        and (release / "dagster.yaml").exists()
        and (release / "release.json").exists()
    )
    # main archives the image prod runs: the promoted digest.
    assert json.loads((release / "release.json").read_text())["image"] == IMAGE_DIGEST
    import duckdb

    with duckdb.connect(str(churn_home / "warehouse.duckdb"), read_only=True) as conn:
        (listed,) = conn.execute("SELECT count(*) FROM churn.published_predictions WHERE month = ?", [month]).fetchone()
    assert listed > 0, "make train did not publish the latest month"
    # Train's runs are in the environment's instance (PostgreSQL), and nothing was written into the checkout.
    import psycopg2

    connection = psycopg2.connect(dbname=postgres_database, **PG)
    with connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM runs WHERE status = 'SUCCESS'")
        (succeeded,) = cursor.fetchone()
    connection.close()
    assert succeeded >= 1
    assert not (repository_copy / "deploy" / "storage").exists()
    assert (repository_copy / "deploy" / "dagster.yaml").read_text() == (REPO / "deploy" / "dagster.yaml").read_text()


def test_months_default_to_the_last_completed_one():
    from churn_assets.rules.months import add_months, last_completed_month

    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MONTH", "PRIOR_MONTH"))}
    result = make("-n", "train", "reference-predictions", env=env)
    assert result.returncode == 0, result.stderr
    latest = last_completed_month()
    assert f"--to {latest:%Y-%m}" in result.stdout
    assert f"--month {add_months(latest, -1):%Y-%m}" in result.stdout
    assert dt.date.today() > latest

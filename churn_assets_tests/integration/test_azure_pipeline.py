"""azure-pipelines.yml: valid against Azure's published schema, stages and branch rules as
designed, every script step a Makefile target, and the pipeline's local-capable steps run here,
in the pipeline's order, in a copy of the repository (so its dist/ and results stay there).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess

import pytest
import yaml

from churn_assets_tests.conftest import run_pipeline, seed
from churn_assets_tests.integration.snowflake_fixtures import REPO, VENV_BIN

PIPELINE = REPO / "azure-pipelines.yml"
STAGES = ["Tests", "Build", "Train", "Validation", "Deploy"]
# Need what only the pipeline's agents have (a Docker engine, the registry, an Azure login): dry run.
REMOTE_TARGETS = {"image", "push-image", "deploy"}
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
    assert (dev["environment"], dev["condition"]) == ("churn-dev", "eq(variables.isDev, 'true')")
    assert (prod["environment"], prod["condition"]) == ("churn-prod", "eq(variables.isProd, 'true')")
    assert archive["condition"] == "eq(variables.isMain, 'true')"
    assert any(s.get("task", "").startswith("PublishPipelineArtifact") for s in steps_of(archive))
    # The Build stage pushes the image it builds; the registry login is a service connection.
    build_steps = steps_of(job("Build", "build"))
    assert any(s.get("inputs", {}).get("command") == "login" and s["inputs"]["containerRegistry"] for s in build_steps)
    assert any(s.get("script") == "make image push-image" for s in build_steps)
    # Train materialises in dev; Validation reads prod's prior month, then validates dev's month.
    envs = {command: step.get("env", {}) for _, _, step, command in script_steps()}
    assert envs["make train"]["CHURN_ENV"] == "dev"
    assert envs["make reference-predictions"]["CHURN_ENV"] == "prod"
    assert envs["make validate"]["CHURN_ENV"] == "dev"


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
            result = subprocess.run(
                ["make", "-n", "-o", INSTALLED, target], cwd=REPO, capture_output=True, text=True, timeout=60, env=env
            )
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


def test_local_capable_steps_run_in_pipeline_order(tmp_path, repository_copy, monkeypatch):
    from churn_assets.rules.months import add_months

    # One model keeps this quick; the catalogue file is the team's, restricted by CHURN_MODELS.
    catalogue = yaml.safe_load((REPO / "churn_assets" / "models.yaml").read_text())
    catalogue["models"] = {"churn": catalogue["models"]["churn"]}
    models = tmp_path / "models.yaml"
    models.write_text(yaml.safe_dump(catalogue, sort_keys=False))
    monkeypatch.setenv("CHURN_MODELS", str(models))

    # The dev warehouse as the Train stage finds it: history up to last month already run. The
    # month is pinned (MONTH=, as a developer passes it) so the sample business is the known one.
    month = dt.date(2025, 6, 1)
    churn_home = tmp_path / "churn"
    churn_home.mkdir()
    seed(churn_home, customers=3000, months=6, end_month=month)  # enough positives to judge the first holdout
    assert run_pipeline(churn_home, last=add_months(month, -1)).all_succeeded

    local = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "CHURN_", "DAGSTER_"))}
    local.update(
        CHURN_HOME=str(churn_home),
        DAGSTER_HOME=str(tmp_path / "dagster"),
        CHURN_TRAIN_THREADS=os.environ.get("CHURN_TRAIN_THREADS", "1"),
        IMAGE="churn-assets",
        TAG="local",
        MONTH=f"{month:%Y-%m}",
    )
    (tmp_path / "dagster").mkdir()
    pull_request = {"SOURCE_BRANCH": "refs/heads/feat/local", "TARGET_BRANCH": "refs/heads/dev"}

    ran, dry = [], []
    for stage_name, job_name, step, command in script_steps():
        env = dict(local)
        for name, value in step.get("env", {}).items():
            value = str(value)
            if name == "CHURN_ENV":
                env[name] = "local"  # dev and prod are Snowflake; here the local warehouse stands in
            elif name in pull_request:
                env[name] = pull_request[name]
            elif "$(" not in value:
                env[name] = value  # literal settings of the step
        for target in make_targets(command):
            if not target.startswith("test-"):  # the test suites check the shipped catalogue itself
                env["CHURN_MODELS"] = str(models)
            dry_run = target in REMOTE_TARGETS | RECURSIVE_TARGETS
            args = ["make", "--no-print-directory", "-o", INSTALLED] + (["-n"] if dry_run else []) + [target]
            result = subprocess.run(args, cwd=repository_copy, env=env, capture_output=True, text=True, timeout=600)
            where = f"{stage_name}/{job_name}: make {target}"
            assert result.returncode == 0, f"{where} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
            (dry if dry_run else ran).append((target, result.stdout))

    ran_targets = [t for t, _ in ran]
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
        "train",
        "install",
        "reference-predictions",
        "validate",
        "install",
        "release",
    ], ran_targets
    assert [t for t, _ in dry] == ["test-integration", "image", "push-image", "deploy", "deploy"]

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
    import duckdb

    with duckdb.connect(str(churn_home / "warehouse.duckdb"), read_only=True) as conn:
        (listed,) = conn.execute("SELECT count(*) FROM churn.published_predictions WHERE month = ?", [month]).fetchone()
    assert listed > 0, "make train did not publish the latest month"
    # The dry-run steps would build, push and deploy exactly the image the stage names.
    commands = "\n".join(out for _, out in dry)
    assert "docker build -f deploy/Dockerfile -t churn-assets:local ." in commands
    assert "docker push churn-assets:local" in commands
    assert "az containerapp update" in commands and "--image churn-assets:local" in commands


def test_months_default_to_the_last_completed_one():
    from churn_assets.rules.months import add_months, last_completed_month

    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MONTH", "PRIOR_MONTH"))}
    result = subprocess.run(
        ["make", "-n", "-o", INSTALLED, "train", "reference-predictions"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    latest = last_completed_month()
    assert f"--to {latest:%Y-%m}" in result.stdout
    assert f"--month {add_months(latest, -1):%Y-%m}" in result.stdout
    assert dt.date.today() > latest

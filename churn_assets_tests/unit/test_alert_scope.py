"""Which runs the alert sensors speak for: this location's jobs and its assets run from the UI or a
backfill, in this environment only."""

from dagster import AssetKey, DagsterRun
from dagster._core.remote_origin import GrpcServerCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin

from churn_assets.alerts import ENV_TAG, is_this_environments_run, is_this_locations_job

JOBS = {"all_models_monthly", "churn_monthly"}
KEYS = {AssetKey(["churn", "predictions"]), AssetKey(["customers", "snapshot"])}


def run(job_name: str, keys=None, tags=None, location: str | None = None) -> DagsterRun:
    origin = None
    if location:
        code_location = GrpcServerCodeLocationOrigin(host="127.0.0.1", port=4100, location_name=location)
        origin = RemoteJobOrigin(RemoteRepositoryOrigin(code_location, "__repository__"), job_name)
    return DagsterRun(
        job_name=job_name,
        asset_selection=frozenset(keys) if keys else None,
        tags=tags or {},
        remote_job_origin=origin,
    )


def test_this_locations_jobs_and_its_assets_materialised_from_the_ui_or_a_backfill():
    assert is_this_locations_job(run("churn_monthly"), JOBS, KEYS)
    # A backfill or a "Materialize" click runs Dagster's implicit asset job.
    assert is_this_locations_job(run("__ASSET_JOB", [AssetKey(["churn", "predictions"])]), JOBS, KEYS)
    assert not is_this_locations_job(run("__ASSET_JOB", [AssetKey(["other", "asset"])]), JOBS, KEYS)
    assert not is_this_locations_job(run("__ASSET_JOB"), JOBS, KEYS)
    assert not is_this_locations_job(run("someone_elses_job"), JOBS, KEYS)


def test_a_run_of_another_environment_is_not_this_ones():
    assert is_this_environments_run(run("churn_monthly", tags={ENV_TAG: "dev"}), "dev", None)
    assert not is_this_environments_run(run("churn_monthly", tags={ENV_TAG: "prod"}), "dev", None)
    # Untagged runs (the implicit asset job) belong where they were launched.
    assert is_this_environments_run(run("__ASSET_JOB", location="churn_dev"), "dev", "churn_dev")
    assert not is_this_environments_run(run("__ASSET_JOB", location="churn_prod"), "dev", "churn_dev")
    # The tag wins over the origin; an unknown origin (an in-process run has none) counts as here.
    assert not is_this_environments_run(run("x", tags={ENV_TAG: "prod"}, location="churn_dev"), "dev", "churn_dev")
    assert is_this_environments_run(run("__ASSET_JOB"), "dev", "churn_dev")

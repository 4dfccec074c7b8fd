"""Which runs the alert sensors speak for: this location's jobs and its assets run from the UI or a
backfill, in this environment only. (Untagged runs belong to the code location that launched
them: test_alerts.py launches a real one.)"""

from dagster import AssetKey, DagsterRun

from churn_assets.alerts import ENV_TAG, is_this_environments_run, is_this_locations_job

JOBS = {"all_models_monthly", "churn_monthly"}
KEYS = {AssetKey(["churn", "predictions"]), AssetKey(["customers", "snapshot"])}


def run(job_name: str, keys=None, tags=None) -> DagsterRun:
    return DagsterRun(job_name=job_name, asset_selection=frozenset(keys) if keys else None, tags=tags or {})


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
    # An untagged run with no origin (run in process, not launched from a code location) counts as here.
    assert is_this_environments_run(run("__ASSET_JOB"), "dev", "churn_dev")

"""`churn-assets run` keeps the daemon's promises: one run of a month at a time, and a run whose
process was killed is marked failed instead of holding its month for ever."""

import fcntl
import os
import signal
import subprocess
import time
from pathlib import Path

from dagster import DagsterRunStatus, RunsFilter

from churn_assets_tests.support.pipeline import CLI, END_MONTH, dagster_instance, query


def run_command(home: Path) -> dict:
    """`churn-assets run` of END_MONTH for churn on `home`, as subprocess arguments."""
    month = f"{END_MONTH:%Y-%m}"
    return {
        "args": [CLI, "run", "--models", "churn", "--from", month, "--to", month],
        "env": {**os.environ, "CHURN_HOME": str(home)},
        "text": True,
    }


def start_run(home: Path) -> subprocess.Popen:
    return subprocess.Popen(**run_command(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_until(condition, what: str, seconds: float = 120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def month_lock_held(home: Path) -> bool:
    path = home / "dagster" / "locks" / f"{END_MONTH.isoformat()}.lock"
    if not path.exists():
        return False
    with open(path) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def started_runs(home: Path):
    instance = dagster_instance(home)
    return list(instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.STARTED])))


def test_a_second_run_of_the_same_month_is_refused_while_the_first_runs(history_copy):
    first = start_run(history_copy)
    try:
        wait_until(lambda: month_lock_held(history_copy), "the first run to hold its month")
        second = subprocess.run(**run_command(history_copy), capture_output=True, timeout=120)
        assert second.returncode == 2 and "Traceback" not in second.stderr, second.stderr
        assert len(second.stderr.strip().splitlines()) == 1 and f"{END_MONTH} is being run by" in second.stderr
    finally:
        out, err = first.communicate(timeout=300)
    assert first.returncode == 0, out + err
    # The month was trained once: one version registered for it, not two.
    versions = query(
        history_copy, "SELECT count(*) AS n FROM churn.model_versions WHERE trained_for_month = ?", [END_MONTH]
    )
    assert versions["n"].iloc[0] == 1


def test_a_killed_run_is_marked_failed_and_never_blocks_the_month(history_copy):
    victim = start_run(history_copy)
    try:
        (run,) = wait_until(lambda: started_runs(history_copy), "the run to start")
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
    finally:
        if victim.poll() is None:
            victim.kill()
    assert victim.returncode == -signal.SIGKILL
    instance = dagster_instance(history_copy)
    assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.STARTED  # stuck, as the kill left it

    again = subprocess.run(**run_command(history_copy), capture_output=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"run {run.run_id} of {END_MONTH}: its process {victim.pid}" in again.stdout
    assert "is gone (killed?); marked failed by churn-assets run" in again.stdout
    assert dagster_instance(history_copy).get_run_by_id(run.run_id).status == DagsterRunStatus.FAILURE
    assert "1/1" in again.stdout and "published" in again.stdout


def test_a_run_waits_for_month_runs_of_its_environment_queued_by_the_daemon(history_copy):
    """A job backfill runs months of this environment: `churn-assets run` refuses, naming the oldest
    run, rather than running a month beside them; another environment's runs do not count. (Runs
    stand in as STARTED: Dagster stores a QUEUED run only with the code location it came from.)"""
    import uuid

    from dagster import DagsterRun

    from churn_assets.tags import ENV_TAG

    instance = dagster_instance(history_copy)
    queued = {}
    for month, env in (("2025-03-01", "local"), ("2025-04-01", "local"), ("2025-03-01", "prod")):
        run = DagsterRun(
            job_name="all_models_monthly",
            run_id=str(uuid.uuid4()),
            status=DagsterRunStatus.STARTED,
            tags={ENV_TAG: env, "dagster/partition": month, "dagster/backfill": "abcdefgh"},
        )
        instance.add_run(run)
        queued[(month, env)] = run.run_id
    refused = subprocess.run(**run_command(history_copy), capture_output=True, timeout=120)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr
    assert refused.stderr.strip() == (
        "churn-assets: error: 2 month run(s) of local are queued or running, the first run "
        f"{queued[('2025-03-01', 'local')]} of "
        "2025-03-01 (the Dagster daemon (UI, schedule or backfill), STARTED); months run one after another: wait "
        "for them, or cancel them in the UI"
    )
    for (_, env), run_id in queued.items():
        if env == "local":
            instance.report_run_canceled(instance.get_run_by_id(run_id))
    again = subprocess.run(**run_command(history_copy), capture_output=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr  # prod's queued run is not ours to wait for

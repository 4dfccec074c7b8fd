"""What the daemon guarantees, for months run in-process by `churn-assets run`.

`execute_in_process` skips the run queue, so `churn-assets run` keeps the same promises itself:
- months one after another: while another month run of the environment is queued or running
  (a job backfill, the schedule, the UI, another `churn-assets run`), or another run holds the
  month, it refuses with one line; two `churn-assets run` processes are kept apart by a lock file
  per month; and the queue counts our runs too (they carry `churn/env`), so the daemon waits for them;
- a run whose process was killed is marked failed, so it never holds its month for ever.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from churn_assets.tags import ENV_TAG

PID_TAG, HOST_TAG = "churn/pid", "churn/host"
IN_PROGRESS = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]


class MonthBusy(ValueError):
    """Another run holds the month; the message says which and what to do."""


def process_tags() -> dict[str, str]:
    """Tags that let a later `churn-assets run` tell whether this run's process is still alive."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def fail_abandoned_runs(instance: DagsterInstance) -> list[str]:
    """Mark failed every in-progress run started by a `churn-assets run` process of this host that
    no longer exists (killed, machine restarted); returns a line per run."""
    host = socket.gethostname()
    lines = []
    for run in instance.get_runs(RunsFilter(statuses=IN_PROGRESS, tags={HOST_TAG: host})):
        pid = int(run.tags.get(PID_TAG, "0") or 0)
        if pid and pid != os.getpid() and not _alive(pid):
            message = f"its process {pid} on {host} is gone (killed?); marked failed by churn-assets run"
            instance.report_run_failed(run, message)
            lines.append(f"run {run.run_id} of {run.tags.get('dagster/partition', '?')}: {message}")
    return lines


def refuse_if_held(instance: DagsterInstance, month: dt.date, environment: str | None = None) -> None:
    """MonthBusy if an in-progress run of the instance (any job, any launcher) holds `month`, or,
    given `environment`, if a month run of that environment not of this process is queued or running."""
    holders = instance.get_runs(RunsFilter(statuses=IN_PROGRESS, tags={"dagster/partition": month.isoformat()}))
    if holders:
        run = holders[0]
        raise MonthBusy(
            f"{month} is being run by run {run.run_id} ({_who(run)}, {run.status.value}); wait for it, "
            "or cancel it in the UI"
        )
    if environment is None:
        return
    others = [
        run
        for run in instance.get_runs(RunsFilter(statuses=IN_PROGRESS, tags={ENV_TAG: environment}))
        if run.tags.get(PID_TAG) != str(os.getpid())
    ]
    if others:
        run = others[-1]  # the oldest: the one the queue runs first
        raise MonthBusy(
            f"{len(others)} month run(s) of {environment} are queued or running, the first run {run.run_id} of "
            f"{run.tags.get('dagster/partition', '?')} ({_who(run)}, {run.status.value}); months run one after "
            "another: wait for them, or cancel them in the UI"
        )


def _who(run) -> str:
    return "a churn-assets run" if PID_TAG in run.tags else "the Dagster daemon (UI, schedule or backfill)"


@contextmanager
def month_lock(
    folder: Path, month: dt.date, instance: DagsterInstance, environment: str | None = None
) -> Iterator[None]:
    """Hold `month` for this process: refuse (MonthBusy) if another process or an in-progress run
    of the instance has it (or, given `environment`, runs another month of it)."""
    locks = Path(folder) / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    with open(locks / f"{month.isoformat()}.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise MonthBusy(
                f"{month} is being run by another `churn-assets run` on this machine; wait for it to finish"
            ) from None
        refuse_if_held(instance, month, environment)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)

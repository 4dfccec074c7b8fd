"""`dagster-daemon run` with a shorter backfill tick, for tests and benchmarks.

Dagster's backfill daemon evaluates asset backfills every 30 seconds, a constant with no setting
(dagster/_daemon/controller.py: DEFAULT_DAEMON_INTERVAL_SECONDS). Months that depend on the month
before advance by at least one tick each, so a 6-month backfill spends minutes waiting. This runs
the real daemon with that constant set from the first argument; everything else is unchanged.

The tests' one private (`dagster._`) import, on purpose: Dagster 1.13 has no public way to set this
interval (checked: the instance's `backfills` settings are use_threads, num_workers and
num_submit_workers; no environment variable; the backfill loop reads the module's constant).

    python -m churn_assets_tests.integration.daemon_ticks SECONDS run -w workspace.yaml
"""

import sys
from importlib.metadata import entry_points

import dagster._daemon.controller as controller

if __name__ == "__main__":
    controller.DEFAULT_DAEMON_INTERVAL_SECONDS = float(sys.argv.pop(1))
    # The `dagster-daemon` command itself, through its public console-script entry point.
    (command,) = entry_points(group="console_scripts", name="dagster-daemon")
    sys.argv[0] = "dagster-daemon"
    command.load()()

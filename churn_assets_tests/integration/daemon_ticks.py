"""`dagster-daemon run` with a shorter backfill tick, for tests and benchmarks.

Dagster's backfill daemon evaluates asset backfills every 30 seconds, a constant with no setting
(dagster/_daemon/controller.py: DEFAULT_DAEMON_INTERVAL_SECONDS). Months that depend on the month
before advance by at least one tick each, so a 6-month backfill spends minutes waiting. This runs
the real daemon with that constant set from the first argument; everything else is unchanged.

    python -m churn_assets_tests.integration.daemon_ticks SECONDS run -w workspace.yaml
"""

import sys

import dagster._daemon.controller as controller

if __name__ == "__main__":
    controller.DEFAULT_DAEMON_INTERVAL_SECONDS = float(sys.argv.pop(1))
    from dagster._daemon.cli import main

    sys.argv[0] = "dagster-daemon"
    main()

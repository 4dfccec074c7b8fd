"""Run tags the project sets and reads.

Every month run of an environment (its jobs, the schedule, job backfills, `churn-assets run`)
carries ENV_TAG. The run queue allows one run per value of it at a time (dagster.yaml,
deploy/dagster.yaml, the Helm values), and dequeues the oldest first: months of one environment
run one after another, in the order their runs were created, whatever launched them.
"""

ENV_TAG = "churn/env"

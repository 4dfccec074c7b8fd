"""Alerts: sensors that turn every failed gate (ERROR and WARN) and every failed run into one
notification each, sent to Microsoft Teams, Slack or a generic JSON webhook.

Channels are chosen by environment variables (read when the definitions are built; the URLs
themselves are secrets passed as EnvVar so they never show in the UI):
  CHURN_ALERT_TEAMS_WEBHOOK_URL   Teams incoming webhook (dagster-msteams)
  CHURN_ALERT_SLACK_WEBHOOK_URL   Slack incoming webhook (slack_sdk, the client dagster-slack wraps)
  CHURN_ALERT_WEBHOOK_URL         any endpoint accepting a JSON POST
  CHURN_UI_BASE_URL               base URL of the Dagster UI for run links (default http://127.0.0.1:3000)
None set means alerts are only logged.

The gate sensor reads the runs that finished (succeeded, failed or were cancelled) since its
cursor, and each one's check evaluations, through Dagster's public event APIs
(`fetch_run_status_changes`, `get_records_for_run`): a failed check is alerted when its run ends.
Its cursor is an event id, `<run>` (runs finished up to that event are alerted) or `<run>:<check>`
(and, of the next run, its failed checks up to that event). A new sensor starts at the latest
finished run; `0` replays the whole history: `dagster sensor cursor gate_failure_alerts --set 0`.
A cursor from before (the id of the last alerted check evaluation) reads as the same point of the
log; a run that was in flight then may alert once more.
"""

import json
import os
import urllib.request
from dataclasses import asdict, dataclass
from typing import Any

from dagster import (
    ConfigurableResource,
    DagsterEventType,
    DefaultSensorStatus,
    EnvVar,
    RunFailureSensorContext,
    RunsFilter,
    RunStatusChangeRecordsFilter,
    SensorEvaluationContext,
    SkipReason,
    run_failure_sensor,
    sensor,
)

from churn_assets.errors import error_line
from churn_assets.tags import ENV_TAG

CHANNEL_VARIABLES = {
    "teams": "CHURN_ALERT_TEAMS_WEBHOOK_URL",
    "slack": "CHURN_ALERT_SLACK_WEBHOOK_URL",
    "webhook": "CHURN_ALERT_WEBHOOK_URL",
}
SENSOR_NAMES = ("gate_failure_alerts", "run_failure_alerts")


def is_this_locations_job(run, jobs: set[str], asset_keys: set) -> bool:
    """One of this location's jobs, or Dagster's implicit asset job (assets materialised from the
    UI, and backfills) run on this location's assets."""
    if run.job_name in jobs:
        return True
    return run.job_name.startswith("__ASSET_JOB") and bool(set(run.asset_selection or ()) & asset_keys)


def is_this_environments_run(run, environment: str, location_name: str | None) -> bool:
    """Does `run` belong to this environment? By its `churn/env` tag; a run without one (assets
    materialised from the UI run Dagster's implicit job, which has no tags) by the code location
    that launched it."""
    tagged = run.tags.get(ENV_TAG)
    if tagged is not None:
        return tagged == environment
    origin = run.remote_job_origin
    if origin is not None and location_name is not None:
        return origin.location_name == location_name
    return True


# Finished runs read per sensor tick; the cursor carries the rest to the next tick.
BATCH = 200
# A run's checks are alerted once it has finished, whichever way it ended.
FINISHED = (DagsterEventType.RUN_SUCCESS, DagsterEventType.RUN_FAILURE, DagsterEventType.RUN_CANCELED)


@dataclass(frozen=True)
class GateCursor:
    """Where the gate sensor stands in the event log: the runs that finished up to event `finished`
    are alerted, and of the run that finished next, its failed checks up to event `within` (a
    delivery failed after them). Written `finished` or `finished:within`; `0` replays everything."""

    finished: int
    within: int | None = None

    @classmethod
    def parse(cls, text: str) -> "GateCursor":
        finished, _, within = text.partition(":")
        return cls(int(finished), int(within) if within else None)

    def __str__(self) -> str:
        return str(self.finished) if self.within is None else f"{self.finished}:{self.within}"


def finished_runs(instance, after: int, limit: int) -> list:
    """The run-status events of runs that finished after event `after`, oldest first, at most `limit`."""
    records = []
    for event_type in FINISHED:
        page = instance.fetch_run_status_changes(
            RunStatusChangeRecordsFilter(event_type, after_storage_id=after), limit=limit, ascending=True
        )
        records += page.records
    # Each type's page is complete up to its own last event, so the first `limit` of all three are
    # the first `limit` finished runs: nothing is skipped between ticks.
    return sorted(records, key=lambda record: record.storage_id)[:limit]


def last_finished(instance) -> int:
    """The event of the latest finished run (0 on a new instance)."""
    latest = [instance.fetch_run_status_changes(event_type, limit=1).records for event_type in FINISHED]
    return max((records[0].storage_id for records in latest if records), default=0)


@dataclass(frozen=True)
class Notification:
    """What a person needs from an alert: what failed, where, by how much, and a link."""

    kind: str  # "gate" or "run"
    title: str
    model: str | None
    month: str | None
    check: str | None
    severity: str | None
    value: Any
    threshold: Any
    summary: str
    run_id: str | None
    run_url: str | None

    def text(self) -> str:
        lines = [self.title, self.summary]
        if self.check:
            lines.append(f"value {self.value!r} against threshold {self.threshold!r}")
        if self.run_url:
            lines.append(f"run: {self.run_url}")
        return "\n".join(lines)


class AlertNotifier(ConfigurableResource):
    """Sends notifications to every configured channel; with none configured, logs them only."""

    teams_webhook_url: str | None = None
    slack_webhook_url: str | None = None
    webhook_url: str | None = None
    ui_base_url: str = "http://127.0.0.1:3000"
    timeout_seconds: float = 10.0

    def channels(self) -> list[str]:
        configured = (
            ("teams", self.teams_webhook_url),
            ("slack", self.slack_webhook_url),
            ("webhook", self.webhook_url),
        )
        return [name for name, url in configured if url]

    def run_url(self, run_id: str | None) -> str | None:
        return f"{self.ui_base_url.rstrip('/')}/runs/{run_id}" if run_id else None

    def send(self, note: Notification, log) -> list[str]:
        """Deliver to every channel; raises if one fails, so the sensor keeps its cursor and retries."""
        log.warning(f"ALERT {note.text()}")
        sent = []
        if self.teams_webhook_url:
            from dagster_msteams import Card, MSTeamsResource

            card = Card()
            card.add_attachment(text_message=note.text())
            MSTeamsResource(hook_url=self.teams_webhook_url, timeout=self.timeout_seconds).get_client().post_message(
                card.payload
            )
            sent.append("teams")
        if self.slack_webhook_url:
            from slack_sdk.webhook import WebhookClient

            response = WebhookClient(self.slack_webhook_url, timeout=int(self.timeout_seconds)).send(text=note.text())
            if response.status_code >= 300:
                raise RuntimeError(f"Slack webhook answered {response.status_code}: {response.body}")
            sent.append("slack")
        if self.webhook_url:
            request = urllib.request.Request(
                self.webhook_url,
                data=json.dumps(asdict(note), default=str).encode(),
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:  # noqa: S310 - configured URL
                if response.status >= 300:
                    raise RuntimeError(f"webhook answered {response.status}")
            sent.append("webhook")
        return sent


def notifier_from_environment() -> AlertNotifier:
    """The notifier for the channels whose variables are set (URLs stay EnvVar: secrets)."""
    urls = {
        ("webhook_url" if name == "webhook" else f"{name}_webhook_url"): EnvVar(variable)
        for name, variable in CHANNEL_VARIABLES.items()
        if os.environ.get(variable)
    }
    return AlertNotifier(**urls, ui_base_url=os.environ.get("CHURN_UI_BASE_URL", "http://127.0.0.1:3000"))


def _plain(value: Any) -> Any:
    return getattr(value, "value", value)


def gate_notification(
    record, run_tags: dict[str, str], notifier: AlertNotifier, models_of_source: dict[str, list[str]]
) -> Notification:
    """A failed check evaluation as a notification. A failed data contract blocks every model of
    its source for the month: `model` names them; its value is what failed (the contract's own
    failed expectations), with no threshold to compare (each expectation says its own)."""
    evaluation = record.event_log_entry.dagster_event.event_specific_data
    metadata = evaluation.metadata or {}
    path = evaluation.asset_key.path
    run_id = record.event_log_entry.run_id
    month = evaluation.partition or run_tags.get("dagster/partition")
    snapshot = len(path) > 1 and path[1] == "snapshot"
    if snapshot:
        blocked = models_of_source.get(path[0], [])
        model = ", ".join(blocked) or None
        value, threshold = _plain(metadata.get("failed_expectations")), None
    else:
        model, value, threshold = path[0], _plain(metadata.get("value")), _plain(metadata.get("threshold"))
    blocking = snapshot or evaluation.severity.value == "ERROR"
    return Notification(
        kind="gate",
        title=f"[{evaluation.severity.value}] gate {evaluation.check_name} failed on {'/'.join(path)} for {month}"
        + (f": {model} not published" if blocking and model else ""),
        model=model,
        month=month,
        check=evaluation.check_name,
        severity=evaluation.severity.value,
        value=value,
        threshold=threshold,
        summary=evaluation.description or "",
        run_id=run_id,
        run_url=notifier.run_url(run_id),
    )


# A step failed because a gate blocked its month: Dagster's own words for a failed blocking check,
# and the published list's guard (assets/published.py). The gate's alert has said it already.
GATE_BLOCKED = ("blocking asset check", "a business gate of its predictions failed")


def run_failure_causes(instance, run_id: str) -> list[tuple[str, bool]]:
    """Each failed step of a run with its error (`step: message`), and whether it failed only
    because a gate blocked the month; a step stopped by a blocking check names the checks that failed."""
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.STEP_FAILURE).records
    causes = []
    for entry in (record.event_log_entry for record in records):
        error = entry.dagster_event.event_specific_data.error
        message = error_line(error)
        if "blocking asset check" in message and error is not None:
            # Dagster lists the failed checks on the lines after its first.
            message = " ".join(line.strip() for line in error.message.strip().splitlines() if line.strip())
        causes.append((f"{entry.step_key}: {message}", any(words in message for words in GATE_BLOCKED)))
    return causes


def run_title(run) -> str:
    """What ran, as a person knows it: the job, or the assets of Dagster's implicit asset job."""
    if not run.job_name.startswith("__ASSET_JOB"):
        return run.job_name
    keys = sorted("/".join(key.path) for key in (run.asset_selection or ()))
    shown = ", ".join(keys[:4]) + (f" and {len(keys) - 4} more" if len(keys) > 4 else "")
    return f"assets {shown}" if keys else "assets"


def build_alert_sensors(models_of_source: dict[str, list[str]], jobs: set[str], asset_keys: set, environment: str):
    """The gate-failure sensor (cursor on the event log) and the run-failure sensor, running by
    default wherever a daemon runs (`dagster dev` included): with no channel configured they only
    log, and a new gate sensor starts from now instead of replaying the history. Both alert on
    `environment`'s runs only (is_this_environments_run)."""
    return [gate_failure_sensor(models_of_source, environment), run_failure_sensor_for(jobs, asset_keys, environment)]


def location_of(context) -> str | None:
    """The code location a sensor runs in; None for run-status sensor contexts, which do not know it."""
    origin = getattr(context, "code_location_origin", None)
    return origin.location_name if origin is not None else None


def gate_failure_sensor(models_of_source: dict[str, list[str]], environment: str):
    """One notification per failed check of this environment's finished runs."""

    @sensor(
        name="gate_failure_alerts",
        minimum_interval_seconds=60,
        default_status=DefaultSensorStatus.RUNNING,
        description=(
            "One notification per failed asset check (ERROR and WARN): model, month, check, value vs threshold, run "
            "link."
        ),
    )
    def gate_failure_alerts(context: SensorEvaluationContext, alerts: AlertNotifier):
        instance = context.instance
        if not context.cursor:
            return start_from_now(context)
        position = GateCursor.parse(context.cursor)
        finished = finished_runs(instance, position.finished, BATCH)
        ids = [record.run_id for record in finished]
        runs = {run.run_id: run for run in instance.get_runs(RunsFilter(run_ids=ids))} if ids else {}
        sent = elsewhere = 0
        location = location_of(context)
        for record in finished:
            run = runs.get(record.run_id)
            if run is not None and not is_this_environments_run(run, environment, location):
                elsewhere += 1
            else:
                for check in failed_checks_to_alert(instance, record.run_id, position):
                    note = gate_notification(check, dict(run.tags) if run else {}, alerts, models_of_source)
                    try:
                        alerts.send(note, context.log)
                    except Exception as error:
                        if not sent:
                            raise  # the tick fails and its cursor stays: the next tick retries
                        # A failed tick would drop this tick's cursor and send what was delivered
                        # again: end the tick here and keep what was delivered.
                        context.log.error(f"alert not delivered, retried at the next tick: {error!r}")
                        return SkipReason(f"sent {sent} alert(s); then a delivery failed: retried at the next tick")
                    sent += 1
                    position = GateCursor(position.finished, check.storage_id)
                    context.update_cursor(str(position))
            position = GateCursor(record.storage_id)
            context.update_cursor(str(position))
        if elsewhere:
            context.log.info(f"{elsewhere} finished run(s) of another environment: not alerted here")
        if not sent:
            return SkipReason(
                f"no failed check of CHURN_ENV={environment} in {len(finished)} newly finished run(s)"
                + (f" ({elsewhere} of another environment)" if elsewhere else "")
            )
        return None

    return gate_failure_alerts


def start_from_now(context: SensorEvaluationContext) -> SkipReason:
    """A new gate sensor's first tick: alert on the runs that finish from now on. Replaying every
    past failure would flood the channels on an instance with years of history (set the cursor to 0
    to replay on purpose: `dagster sensor cursor gate_failure_alerts --set 0`)."""
    start = last_finished(context.instance)
    context.update_cursor(str(start))
    return SkipReason(
        f"started: alerting on the checks of runs finishing after event {start}; earlier ones not replayed"
    )


def failed_checks_to_alert(instance, run_id: str, position: GateCursor) -> list:
    """A finished run's failed check evaluations, oldest first, except those a previous tick already
    delivered (up to the cursor's `within`)."""
    checks = instance.get_records_for_run(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
    return [
        check
        for check in checks.records
        if not (position.within is not None and check.storage_id <= position.within)
        and not check.event_log_entry.dagster_event.event_specific_data.passed
    ]


def run_failure_sensor_for(jobs: set[str], asset_keys: set, environment: str):
    """One notification per failed run of this location's jobs and assets in this environment, unless
    only a gate stopped it (the gate's alert says it)."""

    @run_failure_sensor(
        name="run_failure_alerts",
        default_status=DefaultSensorStatus.RUNNING,
        # Runs of `churn-assets run` execute in its own process (no code location), so the sensor
        # looks at every run and keeps those of this location's jobs.
        monitor_all_code_locations=True,
        description="One notification per failed run (daemon-launched or `churn-assets run`), with each failed "
        "step's message and a run link.",
    )
    def run_failure_alerts(context: RunFailureSensorContext, alerts: AlertNotifier):
        run = context.dagster_run
        # This location's jobs only (an instance serves one environment: docs/deployment.md).
        if not is_this_locations_job(run, jobs, asset_keys):
            return SkipReason(f"run {run.run_id} of {run.job_name} is not one of this location's jobs")
        if not is_this_environments_run(run, environment, location_of(context)):
            return SkipReason(f"run {run.run_id} is a run of {run.tags.get(ENV_TAG)}, not of CHURN_ENV={environment}")
        causes = run_failure_causes(context.instance, run.run_id)
        if causes and all(blocked for _, blocked in causes):
            # One alert per blocked model and month: gate_failure_alerts sends it, with the value
            # and threshold; the run that the gate stopped adds nothing.
            return SkipReason(f"run {run.run_id} failed only because a gate blocked its month (alerted as the gate)")
        error = "; ".join(cause for cause, _ in causes) or context.failure_event.message or "run failed"
        alerts.send(
            Notification(
                kind="run",
                title=f"run of {run_title(run)} for {run.tags.get('dagster/partition', '-')} failed",
                model=run.tags.get("churn/model"),
                month=run.tags.get("dagster/partition"),
                check=None,
                severity="ERROR",
                value=None,
                threshold=None,
                summary=error,
                run_id=run.run_id,
                run_url=alerts.run_url(run.run_id),
            ),
            context.log,
        )

    return run_failure_alerts

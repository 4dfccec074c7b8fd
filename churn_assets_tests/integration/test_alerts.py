"""Alerts reach Teams, Slack and a generic webhook: a real local HTTP server receives them."""

import json
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterInstance, build_run_status_sensor_context, build_sensor_context

from churn_assets import alerts
from churn_assets.simulate.incidents import apply_incident
from churn_assets_tests.support.alerting import Receiver, sensors, tick, ticks_until_quiet
from churn_assets_tests.support.pipeline import END_MONTH, run_pipeline


@pytest.fixture
def receiver(monkeypatch):
    server = Receiver()
    monkeypatch.setenv("CHURN_ALERT_TEAMS_WEBHOOK_URL", server.url + "/teams")
    monkeypatch.setenv("CHURN_ALERT_SLACK_WEBHOOK_URL", server.url + "/slack")
    monkeypatch.setenv("CHURN_ALERT_WEBHOOK_URL", server.url + "/hook")
    monkeypatch.setenv("CHURN_UI_BASE_URL", "http://dagster.example")
    yield server
    server.server.shutdown()


@pytest.fixture
def failed_month(history_copy):
    """The last month run with scrambled ids: the overlap gate fails and the run fails."""
    apply_incident(str(history_copy / "warehouse.duckdb"), "scrambled-ids", END_MONTH)
    report = run_pipeline(history_copy, first=END_MONTH, last=END_MONTH)
    assert not report.all_succeeded
    return history_copy, report.months[0].run_id


def test_a_failed_gate_reaches_every_channel_once_across_restarts(failed_month, receiver, monkeypatch):
    home, run_id = failed_month
    instance = DagsterInstance.local_temp(str(home / "dagster"))
    defs, notifier = sensors(home)
    assert set(notifier.channels()) == {"teams", "slack", "webhook"}
    # Small pages: the cursor must carry the rest across ticks (and sensor restarts).
    monkeypatch.setattr(alerts, "BATCH", 3)
    # Replay from the first finished run, on purpose (a new sensor starts from now).
    cursor = ticks_until_quiet(defs["gate_failure_alerts"], instance, notifier, "0")
    hooks = receiver.on("/hook")
    failed = [h for h in hooks if h["check"] == "top_k_overlap"]
    assert len(failed) == 1, hooks
    note = failed[0]
    assert note["model"] == "churn" and note["month"] == str(END_MONTH)
    assert note["value"] < note["threshold"]["min"]
    assert note["run_url"] == f"http://dagster.example/runs/{run_id}"
    assert len(receiver.on("/teams")) == len(hooks) == len(receiver.on("/slack"))
    assert "top_k_overlap" in json.dumps(receiver.on("/teams")) and "top_k_overlap" in receiver.on("/slack")[-1]["text"]

    # Another tick finds nothing new: no duplicates.
    before = len(receiver.received)
    tick(defs["gate_failure_alerts"], instance, notifier, cursor)
    assert len(receiver.received) == before


def test_an_undelivered_alert_is_retried_not_lost(failed_month, receiver):
    home, _ = failed_month
    instance = DagsterInstance.local_temp(str(home / "dagster"))
    defs, notifier = sensors(home)
    receiver.fail_next = 1  # the first POST (Teams) fails
    context = build_sensor_context(instance=instance, cursor="0", resources={"alerts": notifier})
    # dagster-msteams posts with requests: the receiver's 500 surfaces as its RequestException, and
    # the sensor lets it through so that the tick fails and its cursor stays where it was.
    import requests

    with pytest.raises(requests.exceptions.RequestException):
        defs["gate_failure_alerts"].evaluate_tick(context)
    # The daemon keeps a failed tick's cursor where it was ("0"): the next tick retries.
    ticks_until_quiet(defs["gate_failure_alerts"], instance, notifier, "0")
    assert len([h for h in receiver.on("/hook") if h["check"] == "top_k_overlap"]) == 1


def test_two_failed_gates_of_one_run_are_each_sent_once_when_the_second_delivery_fails(
    history_copy, receiver, tmp_path
):
    """The first alert is delivered, the second refused: the tick ends there without failing (the
    daemon drops a failed tick's cursor, which would send the first again), and the next tick
    sends the second only."""
    import yaml

    from churn_assets.catalog import load_catalog

    catalogue = yaml.safe_load((Path(alerts.__file__).parent / "models.yaml").read_text())
    catalogue["models"]["churn"]["gates"]["predicted_rate"] = [0.9, 0.95]  # no month predicts that
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(catalogue))
    apply_incident(str(history_copy / "warehouse.duckdb"), "scrambled-ids", END_MONTH)
    assert not run_pipeline(history_copy, first=END_MONTH, last=END_MONTH, catalog=load_catalog(path)).all_succeeded
    instance = DagsterInstance.local_temp(str(history_copy / "dagster"))
    defs, _ = sensors(history_copy)
    notifier = alerts.AlertNotifier(webhook_url=receiver.url + "/hook")  # one channel: one POST per alert
    receiver.succeed_first, receiver.fail_next = 1, 1
    context = build_sensor_context(instance=instance, cursor="0", resources={"alerts": notifier})
    result = defs["gate_failure_alerts"].evaluate_tick(context)
    assert "then a delivery failed" in result.skip_message
    assert [h["check"] for h in receiver.on("/hook")] == ["top_k_overlap"]
    assert ":" in context.cursor  # within the run: the first check's alert is behind the cursor
    ticks_until_quiet(defs["gate_failure_alerts"], instance, notifier, context.cursor)
    assert [h["check"] for h in receiver.on("/hook")] == ["top_k_overlap", "predicted_rate"]


def test_finished_runs_come_oldest_first_whatever_their_outcome_page_by_page():
    """The gate sensor's pages: succeeded and failed runs in the order they ended, none skipped
    between pages."""
    from dagster import job, op

    @op
    def fine():
        pass

    @op
    def broken():
        raise ValueError("broken")

    @job
    def good():
        fine()

    @job
    def bad():
        broken()

    with DagsterInstance.ephemeral() as instance:
        ended = [
            j.execute_in_process(instance=instance, raise_on_error=False).run_id for j in (good, bad, bad, good, bad)
        ]
        seen, after = [], 0
        while page := alerts.finished_runs(instance, after, 2):
            seen += [record.run_id for record in page]
            after = page[-1].storage_id
        assert seen == ended
        assert alerts.last_finished(instance) == after  # where a new sensor starts


def test_an_untagged_run_belongs_to_the_code_location_that_launched_it(tmp_path):
    """Assets materialised from the UI run Dagster's implicit job, without the environment tag: such
    a run is this environment's when this environment's code location launched it. A real run,
    launched from a code location named churn_prod by `dagster job launch` (queued, never run)."""
    import os
    import subprocess
    import sys

    (tmp_path / "defs.py").write_text(
        "from dagster import Definitions, job, op\n\n@op\ndef step():\n    pass\n\n@job\ndef monthly():\n"
        "    step()\n\ndefs = Definitions(jobs=[monthly])\n"
    )
    (tmp_path / "workspace.yaml").write_text(
        "load_from:\n  - python_file: {relative_path: defs.py, location_name: churn_prod}\n"
    )
    home = tmp_path / "home"
    home.mkdir()
    # Queued with no daemon to dequeue it: the run is recorded with its origin and never executes.
    (home / "dagster.yaml").write_text(
        "run_coordinator:\n  module: dagster.core.run_coordinator\n  class: QueuedRunCoordinator\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_")} | {"DAGSTER_HOME": str(home)}
    dagster = Path(sys.executable).with_name("dagster")
    subprocess.run(
        [str(dagster), "job", "launch", "-w", "workspace.yaml", "-j", "monthly"],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
        timeout=180,
    )
    with DagsterInstance.from_config(str(home)) as instance:
        (run,) = instance.get_runs()
        assert alerts.ENV_TAG not in run.tags
        assert alerts.is_this_environments_run(run, "prod", "churn_prod")
        assert not alerts.is_this_environments_run(run, "dev", "churn_dev")
        # The tag wins over the origin.
        instance.add_run_tags(run.run_id, {alerts.ENV_TAG: "dev"})
        tagged = instance.get_run_by_id(run.run_id)
        assert alerts.is_this_environments_run(tagged, "dev", "churn_dev")
        assert not alerts.is_this_environments_run(tagged, "prod", "churn_prod")


def run_failure_tick(home, run_id):
    """The run-failure sensor evaluated on the failed run `run_id`; what it returned."""
    instance = DagsterInstance.local_temp(str(home / "dagster"))
    defs, notifier = sensors(home)
    failure = next(
        r.event_log_entry.dagster_event
        for r in instance.get_records_for_run(run_id, of_type=DagsterEventType.RUN_FAILURE).records
    )
    context = build_run_status_sensor_context(
        sensor_name="run_failure_alerts",
        dagster_event=failure,
        dagster_instance=instance,
        dagster_run=instance.get_run_by_id(run_id),
        resources={"alerts": notifier},
    ).for_run_failure()
    return defs["run_failure_alerts"](context)


def test_a_failed_run_is_one_notification(history_copy, receiver):
    # Ids that cannot be stored: the snapshot step fails with an error, no gate says it.
    apply_incident(str(history_copy / "warehouse.duckdb"), "malformed-ids", END_MONTH)
    report = run_pipeline(history_copy, first=END_MONTH, last=END_MONTH)
    run_id = report.months[0].run_id
    run_failure_tick(history_copy, run_id)
    hooks = receiver.on("/hook")
    assert len(hooks) == 1 and hooks[0]["kind"] == "run"
    assert hooks[0]["month"] == str(END_MONTH) and hooks[0]["run_url"].endswith(run_id)
    # The cause, not Dagster's "Steps failed: [...]": the failed step and its own message; the
    # title names the job, not Dagster's implicit asset job.
    assert hooks[0]["summary"].startswith("customers__snapshot: "), hooks[0]["summary"]
    assert "CUST-" in hooks[0]["summary"]
    assert hooks[0]["title"] == f"run of all_models_monthly for {END_MONTH} failed"


def test_a_month_blocked_by_a_gate_is_one_alert_the_gates(failed_month, receiver):
    home, run_id = failed_month
    skipped = run_failure_tick(home, run_id)
    assert "failed only because a gate blocked its month" in skipped.skip_message
    assert receiver.received == []  # the run that the gate stopped adds nothing
    instance = DagsterInstance.local_temp(str(home / "dagster"))
    defs, notifier = sensors(home)
    tick(defs["gate_failure_alerts"], instance, notifier, "0")
    (alert,) = [h for h in receiver.on("/hook") if h["severity"] == "ERROR"]
    assert (alert["kind"], alert["check"], alert["model"], alert["month"]) == (
        "gate",
        "top_k_overlap",
        "churn",
        str(END_MONTH),
    )
    assert alert["value"] is not None and alert["threshold"] is not None


def test_a_failed_gate_of_another_environment_is_not_alerted_here(failed_month, receiver):
    """An instance that sees runs of two environments (it should not: one instance each, but an
    operator may point dev and prod at one) alerts each environment on its own runs only."""
    home, run_id = failed_month
    instance = DagsterInstance.local_temp(str(home / "dagster"))
    assert instance.get_run_by_id(run_id).tags[alerts.ENV_TAG] == "local"  # churn-assets run tags its runs
    instance.add_run_tags(run_id, {alerts.ENV_TAG: "prod"})  # the same failed month, as prod's run
    defs, notifier = sensors(home)
    context = build_sensor_context(instance=instance, cursor="0", resources={"alerts": notifier})
    result = defs["gate_failure_alerts"].evaluate_tick(context)
    assert receiver.received == []
    assert "of another environment" in result.skip_message, result.skip_message

    instance.add_run_tags(run_id, {alerts.ENV_TAG: "local"})  # back to this environment's run: alerted
    tick(defs["gate_failure_alerts"], instance, notifier, "0")
    assert [h["check"] for h in receiver.on("/hook")].count("top_k_overlap") == 1


def test_switching_the_gate_sensor_on_replays_nothing_then_alerts_on_new_failures(failed_month, receiver):
    home, _ = failed_month
    instance = DagsterInstance.local_temp(str(home / "dagster"))
    defs, notifier = sensors(home)
    context = build_sensor_context(instance=instance, cursor=None, resources={"alerts": notifier})
    result = defs["gate_failure_alerts"].evaluate_tick(context)
    assert receiver.received == []  # the month that failed before the sensor existed is not replayed
    assert "earlier ones not replayed" in result.skip_message
    cursor = context.cursor
    assert int(cursor) > 0

    report = run_pipeline(home, first=END_MONTH, last=END_MONTH)  # the same broken month, run again
    assert not report.all_succeeded
    ticks_until_quiet(defs["gate_failure_alerts"], instance, notifier, cursor)
    assert [h["check"] for h in receiver.on("/hook") if h["check"] == "top_k_overlap"] == ["top_k_overlap"]


def test_a_failed_data_contract_names_the_blocked_models_and_what_failed(history_copy, receiver):
    apply_incident(str(history_copy / "warehouse.duckdb"), "missing-column", END_MONTH)
    assert not run_pipeline(history_copy, first=END_MONTH, last=END_MONTH).all_succeeded
    instance = DagsterInstance.local_temp(str(history_copy / "dagster"))
    defs, notifier = sensors(history_copy)
    ticks_until_quiet(defs["gate_failure_alerts"], instance, notifier, "0")
    (note,) = [h for h in receiver.on("/hook") if h["check"] == "data_contract"]
    assert note["model"] == "churn, downgrade, upsell"  # every model of the source is blocked that month
    assert note["title"].endswith(": churn, downgrade, upsell not published")
    assert note["threshold"] is None
    assert any("tenure_months" in str(failure) for failure in note["value"]), note["value"]


def test_without_channels_alerts_are_only_logged(monkeypatch):
    for variable in alerts.CHANNEL_VARIABLES.values():
        monkeypatch.delenv(variable, raising=False)
    assert alerts.notifier_from_environment().channels() == []


@pytest.mark.daemon
def test_a_failed_churn_assets_run_alerts_through_the_daemon(history_copy, receiver, tmp_path):
    """As `make ui` runs it: the daemon on the local instance with the sensors on by default; a
    `churn-assets run` (in its own process, not launched by the daemon) fails a month; the run
    alert and the gate alert reach the receiver. History from before the sensors started is not sent."""
    import os
    import time

    from churn_assets.local_instance import prepare_local_instance
    from churn_assets_tests.support.pipeline import cli
    from churn_assets_tests.support.services import REPO, VENV_BIN, Process, processes, wait_until

    dagster_home = prepare_local_instance(history_copy / "dagster")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_")},
        "CHURN_HOME": str(history_copy),
        "DAGSTER_HOME": str(dagster_home),
    }
    instance = DagsterInstance.from_config(str(dagster_home))

    def sensors_started():
        states = {s.name: s for s in instance.all_instigator_state() if s.name in alerts.SENSOR_NAMES}
        return len(states) == 2 and all(s.instigator_data and s.instigator_data.cursor for s in states.values())

    logs = tmp_path / "logs"
    logs.mkdir()
    with processes(logs) as started:
        daemon = [str(VENV_BIN / "dagster-daemon"), "run", "-w", str(REPO / "workspace.yaml")]
        started.append(Process("daemon", daemon, env, logs))
        wait_until(sensors_started, 180, "both alert sensors' first tick", started, interval=2)
        assert receiver.received == []  # the history holds failed WARN checks: none replayed

        def run_sensor_cursor():
            states = {s.name: s for s in instance.all_instigator_state() if s.name in alerts.SENSOR_NAMES}
            return states["run_failure_alerts"].instigator_data.cursor

        month = END_MONTH.strftime("%Y-%m")
        # A month blocked by a gate: one alert, the gate's (the run it stopped adds nothing).
        apply_incident(str(history_copy / "warehouse.duckdb"), "scrambled-ids", END_MONTH)
        cursor_before = run_sensor_cursor()
        result = cli(history_copy, "run", "--from", month, "--to", month, env_extra={"DAGSTER_HOME": str(dagster_home)})
        assert result.returncode != 0 and "NOT published" in result.stdout, result.stdout + result.stderr
        started_waiting = time.monotonic()
        wait_until(
            lambda: ("gate", "top_k_overlap") in {(h["kind"], h["check"]) for h in receiver.on("/hook")},
            180,
            "the gate alert",
            started,
            interval=2,
        )
        wait_until(lambda: run_sensor_cursor() != cursor_before, 180, "the run sensor to see the run", started)
        print(f"the gate alert arrived {time.monotonic() - started_waiting:.0f} s after the run ended")
        assert [h for h in receiver.on("/hook") if h["kind"] == "run"] == []

        # A month that fails with an error: the run's alert.
        apply_incident(str(history_copy / "warehouse.duckdb"), "malformed-ids", END_MONTH)
        result = cli(
            history_copy,
            "run",
            "--from",
            month,
            "--to",
            month,
            "--force-snapshot",
            env_extra={"DAGSTER_HOME": str(dagster_home)},
        )
        assert result.returncode != 0, result.stdout + result.stderr
        wait_until(lambda: [h for h in receiver.on("/hook") if h["kind"] == "run"], 180, "the run alert", started)
    (run_alert,) = [h for h in receiver.on("/hook") if h["kind"] == "run"]
    assert run_alert["summary"].startswith("customers__snapshot: ") and run_alert["month"] == str(END_MONTH)
    assert "CUST-" in run_alert["summary"]

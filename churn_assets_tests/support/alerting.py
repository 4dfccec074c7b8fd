"""Alerts as the tests receive them: a real local HTTP server as every channel's webhook, and the
project's alert sensors ticked as the daemon ticks them."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from dagster import build_sensor_context

from churn_assets import alerts
from churn_assets.definitions import build_definitions
from churn_assets_tests.support.pipeline import churn_home


class Receiver:
    """A local HTTP server recording every POST; can be told to fail the next N requests (after
    letting `succeed_first` through)."""

    def __init__(self):
        self.received: list[tuple[str, dict]] = []
        self.fail_next = self.succeed_first = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.succeed_first:
                    receiver.succeed_first -= 1
                elif receiver.fail_next:
                    receiver.fail_next -= 1
                    self.send_response(500)
                    self.end_headers()
                    return
                receiver.received.append((self.path, json.loads(body)))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok" if self.path == "/slack" else b"1")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def on(self, path):
        return [body for p, body in self.received if p == path]


def sensors(home):
    with churn_home(home):
        defs = build_definitions()
    return {s.name: s for s in defs.sensors}, alerts.notifier_from_environment()


def tick(sensor_def, instance, notifier, cursor):
    context = build_sensor_context(instance=instance, cursor=cursor, resources={"alerts": notifier})
    sensor_def.evaluate_tick(context)
    return context.cursor


def ticks_until_quiet(sensor_def, instance, notifier, cursor, at_most=40):
    """Tick as the daemon does, each from the cursor the last one left, until nothing moves."""
    for _ in range(at_most):
        new = tick(sensor_def, instance, notifier, cursor)
        if new == cursor:
            return cursor
        cursor = new
    raise AssertionError(f"the cursor still moves after {at_most} ticks")

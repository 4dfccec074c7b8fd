"""Dagster server processes (code server, webserver, daemon) on free loopback ports, always
stopped, and GraphQL against a webserver."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Process:
    """A server process in its own session (so its children stop with it), output to a file."""

    def __init__(self, name: str, args: list[str], env: Mapping[str, str], log_dir: Path, cwd: Path = REPO):
        self.name = name
        self.log = log_dir / f"{name}.log"
        self._file = open(self.log, "wb")
        self.popen = subprocess.Popen(
            args, env=dict(env), cwd=cwd, stdout=self._file, stderr=subprocess.STDOUT, start_new_session=True
        )

    def output(self) -> str:
        self._file.flush()
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 20) -> None:
        if self.alive():
            try:
                os.killpg(self.popen.pid, signal.SIGTERM)
                self.popen.wait(timeout=timeout)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.popen.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.popen.wait(timeout=5)
        else:
            # The group may still hold children (a run worker) after its leader exited.
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._file.close()


def webserver_process(port: int, workspace: str, env: Mapping[str, str], log_dir: Path) -> Process:
    """dagster-webserver on 127.0.0.1:`port` serving `workspace`."""
    args = [str(VENV_BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-w", workspace]
    return Process("webserver", args, env, log_dir)


@contextmanager
def processes(log_dir: Path) -> Iterator[list[Process]]:
    """Collects started processes and stops every one of them, whatever happens."""
    started: list[Process] = []
    try:
        yield started
    finally:
        for process in reversed(started):
            process.stop()


def wait_until(predicate, timeout: float, what: str, processes_to_watch: list[Process] = (), interval: float = 0.5):
    """Poll `predicate` until it returns a truthy value; fail with the processes' output after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in processes_to_watch:
            if not process.alive():
                raise AssertionError(
                    f"{process.name} exited ({process.popen.returncode}) while waiting for "
                    f"{what}:\n{process.output()[-4000:]}"
                )
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    logs = "\n".join(f"--- {p.name} ---\n{p.output()[-3000:]}" for p in processes_to_watch)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{logs}")


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def dockerfile_instructions(path: Path = REPO / "deploy" / "Dockerfile") -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    instructions, current = [], ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        current += " " + stripped.removesuffix("\\").strip() if current else stripped.removesuffix("\\").strip()
        if not stripped.endswith("\\"):
            keyword, _, arguments = current.partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
            current = ""
    return instructions


def dockerfile_command(path: Path = REPO / "deploy" / "Dockerfile") -> list[str]:
    """The image's CMD (exec form), as the container would run it."""
    import json

    commands = [arguments for keyword, arguments in dockerfile_instructions(path) if keyword == "CMD"]
    assert len(commands) == 1, "deploy/Dockerfile needs exactly one CMD"
    return json.loads(commands[0])


def code_server_args(port: int) -> list[str]:
    """deploy/Dockerfile's CMD with this machine's venv and a loopback port (instead of 0.0.0.0:4000)."""
    args = dockerfile_command()
    assert args[:3] == ["dagster", "code-server", "start"], args
    args = [str(VENV_BIN / "dagster"), *args[1:]]
    args[args.index("--host") + 1] = "127.0.0.1"
    args[args.index("--port") + 1] = str(port)
    return args


def graphql(port: int, query: str, variables: dict | None = None, timeout: float = 30) -> dict:
    import json

    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = json.loads(response.read())
    assert "errors" not in body, body
    return body["data"]


def webserver_ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


LOCATIONS_QUERY = """
{ workspaceOrError { __typename ... on Workspace { locationEntries { name
    locationOrLoadError { __typename ... on RepositoryLocation { name } ... on PythonError { message } } } } } }
"""


def loaded_locations(port: int) -> dict[str, str]:
    """Location name -> 'RepositoryLocation' (loaded) or the load error's message."""
    data = graphql(port, LOCATIONS_QUERY)["workspaceOrError"]
    result = {}
    for entry in data.get("locationEntries", []):
        loaded = entry["locationOrLoadError"]
        if loaded is None:
            continue
        result[entry["name"]] = (
            loaded["__typename"] if loaded["__typename"] == "RepositoryLocation" else loaded.get("message", "")
        )
    return result

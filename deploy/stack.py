"""One environment's Dagster deployment as containers on one Docker host: its own PostgreSQL
database, code server, daemon and webserver, and each run in a container of its own.

    python deploy/stack.py base                                  # base images from Debian packages
    python deploy/stack.py build [--git-url URL]                 # the image (after `make wheelhouse`)
    python deploy/stack.py up --env dev --image ID --env-file F [--with-postgres]
    python deploy/stack.py deploy --env dev --image ID --env-file F [--only code-server]
    python deploy/stack.py down --env dev

`up` creates the environment's PostgreSQL container (with --with-postgres) and data volume if
they are missing (a stopped PostgreSQL container is started again), then does what `deploy` does.
`deploy` is what the pipeline's Deploy stage runs on the environment's Docker host: `dagster
instance migrate`, then the code server, the daemon and the webserver replaced by containers of
the new image. Every container but the runs' restarts with Docker (`--restart unless-stopped`).
Runs already in flight keep running in their own containers (DockerRunLauncher), so a redeploy
never kills them. `make test-stack` runs all of it.

Every container uses host networking: every connection stays on 127.0.0.1 (no bridge addresses).
Settings come from the environment's env file (docker's `--env-file` format: CHURN_ENV, the
CHURN_SNOWFLAKE_* settings, DAGSTER_POSTGRES_*, alert webhooks); docs/deployment.md lists them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
BASE_IMAGE = "churn-assets-base:bookworm"
POSTGRES_IMAGE = "churn-assets-postgres:bookworm"
IMAGE = "churn-assets"
# Debian packages of the two base images (no public image registry is reachable from these machines).
BASE_PACKAGES = {BASE_IMAGE: "python3,python3-venv,libgomp1,ca-certificates", POSTGRES_IMAGE: "postgresql-15"}
# Ports on the host, per environment: dev and prod can share a Docker host without clashing.
PORTS = {
    "dev": {"webserver": 3100, "code_server": 4100, "postgres": 5433},
    "prod": {"webserver": 3200, "code_server": 4200, "postgres": 5434},
}
SERVICES = ("code-server", "daemon", "webserver")
STACK_LABEL = "churn/stack"
DAGSTER_HOME = "/opt/dagster/dagster_home"
# Legacy builder: Debian's docker.io has no buildx; it reads no <Dockerfile>.dockerignore either,
# so `build` sends a context folder holding only what the image needs.
DOCKER_ENV = {**os.environ, "DOCKER_BUILDKIT": "0"}


def say(line: str) -> None:
    print(f"[stack] {line}", flush=True)


def docker(*args: str, check: bool = True, capture: bool = False) -> subprocess.CompletedProcess:
    """`docker ARGS`; with `check`, a failure stops the script with Docker's own message (captured
    output would otherwise be lost: the pipeline's log must say why a deploy failed)."""
    done = subprocess.run(["docker", *args], check=False, text=True, capture_output=capture, env=DOCKER_ENV)
    if check and done.returncode != 0:
        detail = (done.stderr or done.stdout or "").strip() if capture else "(its output is above)"
        raise SystemExit(f"stack: `docker {args[0]}` failed (exit {done.returncode}): {detail}")
    return done


def image_exists(name: str) -> bool:
    return docker("image", "inspect", name, check=False, capture=True).returncode == 0


def container(env: str, service: str) -> str:
    return f"churn-{env}-{service}"


# -- images -----------------------------------------------------------------------------------
def build_base_images(force: bool = False) -> None:
    """The base images, from Debian packages with this machine's apt sources (mmdebstrap)."""
    for name, packages in BASE_PACKAGES.items():
        if image_exists(name) and not force:
            say(f"{name}: present")
            continue
        say(f"{name}: building from Debian packages ({packages})")
        with tempfile.TemporaryDirectory() as folder:
            tarball = Path(folder) / "rootfs.tar"
            subprocess.run(
                ["mmdebstrap", "--quiet", "--variant=minbase", f"--include={packages}", "bookworm", str(tarball)],
                check=True,
            )
            docker("import", str(tarball), name, capture=True)


def build_image(git_url: str, git_commit: str, tag: str, base_image: str = BASE_IMAGE) -> str:
    """The churn_assets image from dist/ (`make wheelhouse`); returns its ID (sha256 digest)."""
    wheels = sorted((REPO / "dist").glob("churn_assets-*.whl"))
    deps = REPO / "dist" / "deps"
    if len(wheels) != 1 or not deps.is_dir():
        raise SystemExit("stack: build needs dist/churn_assets-*.whl and dist/deps/: run `make wheelhouse` first")
    with tempfile.TemporaryDirectory() as folder:
        context = Path(folder)
        (context / "dist").mkdir()
        (context / "deploy").mkdir()
        shutil.copy(wheels[0], context / "dist")
        shutil.copytree(deps, context / "dist" / "deps")
        for name in ("Dockerfile", "constraints.txt", "dagster.yaml", "workspace.yaml"):
            shutil.copy(REPO / "deploy" / name, context / "deploy" / name)
        docker(
            "build",
            "--quiet",
            "--network",  # the build's RUN steps need no network (no index); host, never a bridge
            "host",
            "--file",
            str(context / "deploy" / "Dockerfile"),
            "--build-arg",
            f"BASE_IMAGE={base_image}",
            "--build-arg",
            f"GIT_URL={git_url}",
            "--build-arg",
            f"GIT_COMMIT={git_commit}",
            "--tag",
            f"{IMAGE}:{tag}",
            str(context),
            capture=True,
        )
    image_id = docker("image", "inspect", "--format", "{{.Id}}", f"{IMAGE}:{tag}", capture=True).stdout.strip()
    say(f"built {IMAGE}:{tag} = {image_id}")
    return image_id


# -- one environment --------------------------------------------------------------------------
def read_env_file(path: Path) -> dict[str, str]:
    """docker's env-file format: KEY=VALUE lines, # comments; anything else is refused."""
    values = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"stack: {path}:{number}: not KEY=VALUE: {line!r}")
        values[key.strip()] = value
    return values


class Stack:
    """One environment's containers, and the files they share (in `state`)."""

    def __init__(self, env: str, image: str, settings: dict[str, str], state: Path, with_postgres: bool):
        if env not in PORTS:
            raise SystemExit(f"stack: --env {env!r} is not one of {', '.join(PORTS)}")
        self.env, self.image, self.state, self.with_postgres = env, image, state, with_postgres
        self.ports = PORTS[env]
        self.settings = {
            # Alerts link to this environment's UI; the env file sets the proxy's address in practice.
            "CHURN_UI_BASE_URL": f"http://127.0.0.1:{self.ports['webserver']}",
            **settings,
            "CHURN_CODE_SERVER_HOST": "127.0.0.1",
            "CHURN_CODE_SERVER_PORT": str(self.ports["code_server"]),
        }
        if with_postgres:
            self.settings.update(
                DAGSTER_POSTGRES_HOST="127.0.0.1",
                DAGSTER_POSTGRES_PORT=str(self.ports["postgres"]),
                DAGSTER_POSTGRES_USER="postgres",
                DAGSTER_POSTGRES_PASSWORD="trust",  # the stack's own PostgreSQL trusts loopback
                DAGSTER_POSTGRES_DB=f"churn_dagster_{env}",
            )
        missing = [v for v in ("CHURN_ENV", *POSTGRES_SETTINGS) if v not in self.settings]
        if missing:
            raise SystemExit(f"stack: the env file of {env} lacks {', '.join(missing)} (docs/deployment.md)")
        self.uses_volume = self.settings.get("CHURN_ENV") == "local"

    @property
    def data_volume(self) -> str:
        return f"churn-{self.env}-data"

    def write_files(self) -> None:
        """The environment's instance, workspace and env files, mounted into its containers."""
        self.state.mkdir(parents=True, exist_ok=True)
        (self.state / "dagster.yaml").write_text(yaml.safe_dump(self.instance_config(), sort_keys=False))
        workspace = yaml.safe_load((REPO / "deploy" / "workspace.yaml").read_text())
        workspace["load_from"][0]["grpc_server"]["location_name"] = f"churn_{self.env}"  # the UI names its environment
        (self.state / "workspace.yaml").write_text(yaml.safe_dump(workspace, sort_keys=False))
        lines = [f"{key}={value}" for key, value in sorted(self.settings.items())]
        (self.state / "stack.env").write_text("\n".join(lines) + "\n")
        (self.state / "stack.env").chmod(0o600)

    def instance_config(self) -> dict:
        """deploy/dagster.yaml, with what the run containers need: every setting of the env file
        by name (values from the daemon's environment, never written here), and the warehouse
        volume when the warehouse is a DuckDB file (CHURN_ENV=local)."""
        config = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())
        launcher = config["run_launcher"]["config"]
        names = sorted(self.settings)
        launcher["env_vars"] = [
            *launcher.get("env_vars", []),
            *[n for n in names if n not in launcher.get("env_vars", [])],
        ]
        kwargs = launcher.setdefault("container_kwargs", {})
        kwargs["labels"] = {STACK_LABEL: self.env}
        if self.uses_volume:
            kwargs["volumes"] = [f"{self.data_volume}:/data"]
        return config

    def run_args(self, service: str, *extra: str) -> list[str]:
        args = [
            "--name",
            container(self.env, service),
            "--network",
            "host",
            "--label",
            f"{STACK_LABEL}={self.env}",
            "--env-file",
            str(self.state / "stack.env"),
            "--volume",
            f"{self.state / 'dagster.yaml'}:{DAGSTER_HOME}/dagster.yaml:ro",
            "--volume",
            f"{self.state / 'workspace.yaml'}:{DAGSTER_HOME}/workspace.yaml:ro",
            *extra,
        ]
        if self.uses_volume:
            args += ["--volume", f"{self.data_volume}:/data"]
        return args

    # -- services -----------------------------------------------------------------------------
    def start_postgres(self) -> None:
        name = container(self.env, "postgres")
        port, db = self.ports["postgres"], self.settings["DAGSTER_POSTGRES_DB"]
        script = (
            "set -e; data=/var/lib/postgresql/stack; "
            "[ -f $data/PG_VERSION ] || "
            "/usr/lib/postgresql/15/bin/initdb -D $data -U postgres --auth=trust >/dev/null; "
            f"exec /usr/lib/postgresql/15/bin/postgres -D $data -p {port} -c listen_addresses=127.0.0.1 "
            "-c unix_socket_directories=/tmp"
        )
        if container_exists(name):
            if not running(name):  # e.g. after the host restarted: its data is in the container
                say(f"{name}: starting the stopped container")
                docker("start", name, capture=True)
        else:
            say(f"{name}: PostgreSQL on 127.0.0.1:{port}")
            docker("run", "--detach", "--name", name, "--network", "host", "--label", f"{STACK_LABEL}={self.env}",
                   "--restart", "unless-stopped", "--user", "postgres", POSTGRES_IMAGE, "sh", "-c", script,
                   capture=True)  # fmt: skip
        wait_for(lambda: docker("exec", name, "pg_isready", "-q", "-h", "127.0.0.1", "-p", str(port),
                                check=False, capture=True).returncode == 0, 60, "PostgreSQL")  # fmt: skip
        exists = docker("exec", name, "psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-tAc",
                        f"SELECT 1 FROM pg_database WHERE datname = '{db}'", capture=True).stdout.strip()  # fmt: skip
        if not exists:
            docker("exec", name, "createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", db, capture=True)

    def migrate(self) -> None:
        """`dagster instance migrate` with the new image, before its services start."""
        say(f"{self.env}: dagster instance migrate ({self.image})")
        docker("run", "--rm", *self.run_args("migrate"), self.image, "dagster", "instance", "migrate", capture=True)

    def start(self, service: str) -> None:
        name = container(self.env, service)
        docker("rm", "--force", name, check=False, capture=True)
        workspace = f"{DAGSTER_HOME}/workspace.yaml"
        if service == "code-server":
            # DAGSTER_CURRENT_IMAGE: the image the DockerRunLauncher starts this location's runs in.
            # The image's HEALTHCHECK asks port 4000; here the code server listens on the environment's port.
            health = f"dagster api grpc-health-check --port {self.ports['code_server']}"
            extra = ["--env", f"DAGSTER_CURRENT_IMAGE={self.image}", "--health-cmd", health]
            command = ["dagster", "code-server", "start", "--host", "127.0.0.1",
                       "--port", str(self.ports["code_server"]), "--module-name", "churn_assets"]  # fmt: skip
        elif service == "daemon":
            # The daemon launches run containers and checks on them: it needs Docker's socket.
            socket_group = str(os.stat("/var/run/docker.sock").st_gid)
            extra = ["--volume", "/var/run/docker.sock:/var/run/docker.sock", "--group-add", socket_group]
            extra += ["--no-healthcheck"]  # the image's check is the code server's
            command = ["dagster-daemon", "run", "--workspace", workspace]
        else:
            health = f"python3 -c \"import urllib.request as u; u.urlopen('http://127.0.0.1:{self.ports['webserver']}/server_info')\""
            extra = ["--health-cmd", health]
            command = ["dagster-webserver", "--host", "127.0.0.1", "--port", str(self.ports["webserver"]),
                       "--workspace", workspace]  # fmt: skip
        say(f"{name}: {self.image}")
        extra += ["--restart", "unless-stopped"]  # back after a host or Docker restart
        docker("run", "--detach", *self.run_args(service, *extra), self.image, *command, capture=True)

    def up(self) -> None:
        self.write_files()
        if self.with_postgres:
            self.start_postgres()
        self.deploy(SERVICES)

    def deploy(self, services=SERVICES) -> None:
        self.write_files()
        if self.uses_volume:
            # Created here, labelled, before any container mounts it (Docker would create it unlabelled,
            # and `down` finds what it removes by label). An existing volume is left as it is.
            docker("volume", "create", "--label", f"{STACK_LABEL}={self.env}", self.data_volume, capture=True)
        self.migrate()
        for service in services:  # the code server first: the daemon and webserver load it
            self.start(service)
        say(f"{self.env}: webserver on http://127.0.0.1:{self.ports['webserver']}")


# The instance's connection settings, as deploy/dagster.yaml passes them to run containers.
POSTGRES_SETTINGS = tuple(
    name
    for name in yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())["run_launcher"]["config"]["env_vars"]
    if name.startswith("DAGSTER_POSTGRES_")
)


def running(name: str) -> bool:
    return bool(docker("ps", "--quiet", "--filter", f"name=^{name}$", capture=True).stdout.strip())


def container_exists(name: str) -> bool:
    """A container of that name, running or stopped."""
    return bool(docker("ps", "--all", "--quiet", "--filter", f"name=^{name}$", capture=True).stdout.strip())


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"stack: {what} not ready after {timeout:.0f} s")
        time.sleep(0.5)


def down(env: str) -> list[str]:
    """Remove every container (run containers included) and volume of `env`; returns their names."""
    label = f"label={STACK_LABEL}={env}"
    # The daemon first: it could otherwise launch a run container between the listing and the removal.
    daemon = container(env, "daemon")
    removed = [daemon] if docker("rm", "--force", daemon, check=False, capture=True).returncode == 0 else []
    names = docker("ps", "--all", "--filter", label, "--format", "{{.Names}}", capture=True).stdout.split()
    if names:
        docker("rm", "--force", "--volumes", *names, capture=True)
    names = removed + names
    volumes = docker("volume", "ls", "--quiet", "--filter", label, capture=True).stdout.split()
    if volumes:
        docker("volume", "rm", "--force", *volumes, capture=True)
    say(f"{env}: removed {len(names)} container(s) and {len(volumes)} volume(s)")
    return names + volumes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deploy/stack.py", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    base = commands.add_parser("base", help="the base images, from Debian packages (mmdebstrap)")
    base.add_argument("--force", action="store_true", help="rebuild even if present")
    build = commands.add_parser("build", help="the churn_assets image from dist/ (make wheelhouse)")
    build.add_argument("--git-url", default="", help="repository URL for the UI's code references")
    build.add_argument("--git-commit", default="", help="the commit built (with --git-url)")
    build.add_argument("--tag", default="local")
    build.add_argument("--base-image", default=BASE_IMAGE, help="Python 3.11 with venv and libgomp1")
    build.add_argument("--id-file", type=Path, help="write the image ID (sha256 digest) to this file")
    for name in ("up", "deploy"):
        command = commands.add_parser(name, help="start the environment" if name == "up" else "roll out an image")
        command.add_argument("--env", required=True, choices=sorted(PORTS))
        command.add_argument("--image", required=True, help="image ID or name@digest, promoted unchanged")
        command.add_argument("--env-file", type=Path, required=True, help="the environment's settings")
        command.add_argument("--state", type=Path, help="folder for the generated instance and env files")
        command.add_argument(
            "--with-postgres", action="store_true", help="the instance database is a PostgreSQL container of the stack"
        )
        if name == "deploy":
            command.add_argument("--only", choices=SERVICES, action="append", help="replace only these services")
    stop = commands.add_parser("down", help="remove the environment's containers and volumes")
    stop.add_argument("--env", required=True, choices=sorted(PORTS))
    args = parser.parse_args(argv)

    if args.command == "base":
        build_base_images(args.force)
    elif args.command == "build":
        image_id = build_image(args.git_url, args.git_commit, args.tag, args.base_image)
        if args.id_file:
            args.id_file.write_text(image_id + "\n")
    elif args.command == "down":
        down(args.env)
    else:
        state = args.state or Path.home() / ".churn-stack" / args.env
        stack = Stack(args.env, args.image, read_env_file(args.env_file), state, args.with_postgres)
        if args.command == "up":
            stack.up()
        else:
            stack.deploy(tuple(args.only) if args.only else SERVICES)
    return 0


if __name__ == "__main__":
    sys.exit(main())

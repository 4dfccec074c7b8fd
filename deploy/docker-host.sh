#!/usr/bin/env bash
# The Docker engine `make image` and `make test-stack` need, from Debian's packages:
#   deploy/docker-host.sh start   installs docker.io and mmdebstrap if missing, starts dockerd if
#                                 it is not running (and remembers that it started it)
#   deploy/docker-host.sh stop    stops dockerd if `start` started it (a Docker engine that was
#                                 already running, e.g. a system service, is left as it was)
set -euo pipefail
MARKER=/run/churn-assets-dockerd.pid
SUDO=$( [ "$(id -u)" = 0 ] || echo sudo )

case "${1:-}" in
  start)
    # Each only if missing: a host (or pipeline agent) with its own Docker keeps it.
    missing=""
    command -v dockerd >/dev/null || missing="docker.io"
    command -v mmdebstrap >/dev/null || missing="$missing mmdebstrap"
    if [ -n "$missing" ]; then
      echo "Installing from Debian's packages:$missing"
      $SUDO apt-get update -qq
      # shellcheck disable=SC2086  # one word per package
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
    fi
    if ! docker info >/dev/null 2>&1; then
      # No default bridge: every container here uses host networking, so no traffic can go to
      # a bridge's private addresses.
      echo "Starting dockerd without a bridge (log: /var/log/churn-assets-dockerd.log)"
      $SUDO sh -c "nohup dockerd --bridge=none >/var/log/churn-assets-dockerd.log 2>&1 & echo \$! > $MARKER"
      for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
      docker info >/dev/null 2>&1 || { echo "dockerd did not start: see /var/log/churn-assets-dockerd.log" >&2; exit 1; }
    fi
    ;;
  stop)
    if [ -f "$MARKER" ]; then
      pid=$(cat "$MARKER")
      echo "Stopping dockerd ($pid), started by deploy/docker-host.sh"
      $SUDO kill "$pid" 2>/dev/null || true
      for _ in $(seq 30); do $SUDO kill -0 "$pid" 2>/dev/null || break; sleep 1; done
      $SUDO rm -f "$MARKER"
    fi
    ;;
  *)
    echo "usage: deploy/docker-host.sh start|stop" >&2
    exit 2
    ;;
esac

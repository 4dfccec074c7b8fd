#!/usr/bin/env bash
# The Docker engine `make image` and `make test-stack` need, from Debian's packages:
#   deploy/docker-host.sh start   installs docker.io and mmdebstrap if missing, starts dockerd if
#                                 it is not running (and remembers that it started it)
#   deploy/docker-host.sh stop    stops dockerd if `start` started it (leaves nothing running)
set -euo pipefail
MARKER=/run/churn-assets-dockerd.pid
SUDO=$( [ "$(id -u)" = 0 ] || echo sudo )

case "${1:-}" in
  start)
    if ! command -v dockerd >/dev/null || ! command -v mmdebstrap >/dev/null; then
      echo "Installing Debian's docker.io and mmdebstrap"
      $SUDO apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq docker.io mmdebstrap >/dev/null
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
      for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
      $SUDO rm -f "$MARKER"
    fi
    ;;
  *)
    echo "usage: deploy/docker-host.sh start|stop" >&2
    exit 2
    ;;
esac

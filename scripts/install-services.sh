#!/usr/bin/env bash
# Installs what the test suite starts or runs (on free ports, on 127.0.0.1): PostgreSQL, Redis, and
# docker-compose (v1, which parses docker-compose.yml offline for tests/ops/test_compose.py),
# Node.js (node Script/Commands tasks run real node processes in tests/tasks/test_script_tasks.py),
# and a Docker engine with what the tests need to build their images locally.
# The tests start and stop the servers themselves (tests/services.py); this only makes the binaries exist.
set -euo pipefail
need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
command -v node >/dev/null 2>&1 || need+=(nodejs)
# A Docker engine for tests/docker (each test session starts its own private dockerd on a unix
# socket in a temp dir, with no bridge and no iptables), busybox-static for the instant local
# busybox image, and debootstrap for the local Python image (no image registry is reachable, so
# the tests build their images; the Python one is cached under ~/.cache/podium-test-images).
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-services: need ${need[*]}; run as root or install them: apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  echo "install-services: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

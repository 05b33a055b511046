#!/usr/bin/env bash
# Installs what the test suite starts or runs (on free ports, on 127.0.0.1): PostgreSQL, Redis, and
# docker-compose (v1, which parses docker-compose.yml offline for tests/ops/test_compose.py), and
# Node.js (node Script/Commands tasks run real node processes in tests/tasks/test_script_tasks.py).
# The tests start and stop the servers themselves (tests/services.py); this only makes the binaries exist.
set -euo pipefail
need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
command -v node >/dev/null 2>&1 || need+=(nodejs)
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

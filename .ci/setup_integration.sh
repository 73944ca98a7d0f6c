#!/usr/bin/env bash
# Install what the integration tests (pytest -m integration) need on the CI machine: Request Tracker 5 and PostgreSQL from
# Debian's packages. Only the packages: each test session seeds and starts its own RT instance
# (tests/integration/conftest.py runs deploy/rt/setup_rt.sh into a temporary RT_STATE_DIR).
# Run as root. The apt step is skipped when RT is already installed; `apt-get update` always runs.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != "0" ]; then
  echo "setup_integration: needs root (apt-get)" >&2
  exit 1
fi
start=$SECONDS
RT_APT_UPDATE=1 bash deploy/rt/install_rt.sh
echo "setup_integration: RT 5 ready in $((SECONDS - start))s ($(dpkg-query -W -f='${Version}' request-tracker5))"

# PostgreSQL server binaries (tests/inference/storage starts its own cluster on a free loopback port)
pg_start=$SECONDS
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql >/dev/null
fi
# the Debian package starts a cluster on 5432 where a service manager exists; we never use it
echo "setup_integration: PostgreSQL ready in $((SECONDS - pg_start))s ($(ls -d /usr/lib/postgresql/*/bin | head -1))"

#!/usr/bin/env bash
# The compose dev stack, with the base images this machine can build from:
#   scripts/compose.sh [redis|database] <docker-compose arguments...>
#   e.g. scripts/compose.sh redis up --build        (make compose-up [BROKER=database])
# Where python:3.11-slim-bookworm and debian:bookworm-slim can be pulled, the
# compose files' defaults are used. Where they cannot (no registry, as here), the
# project's own clinic-debian:bookworm is built (docker/debian/build.sh) and passed
# as CLINIC_APP_BASE_IMAGE / CLINIC_SERVICE_BASE_IMAGE. Variables already set win.
# COMPOSE_PROJECT_NAME defaults to clinic-dev.
set -euo pipefail
cd "$(dirname "$0")/.."
broker=${1:-redis}
case $broker in
  redis) file=docker/compose.yml ;;
  database) file=docker/compose.db-broker.yml ;;
  *) echo "compose.sh: the broker is redis or database, not '$broker'" >&2; exit 2 ;;
esac
shift || true
[[ $# -gt 0 ]] || set -- up --build
bash scripts/docker-engine.sh
if ! command -v docker-compose >/dev/null; then
  echo "compose.sh: docker-compose is missing (apt-get install docker-compose; Compose v2 users: docker compose -f $file ...)" >&2
  exit 1
fi
if [[ -z ${CLINIC_APP_BASE_IMAGE:-} || -z ${CLINIC_SERVICE_BASE_IMAGE:-} ]]; then
  have() { docker image inspect "$1" >/dev/null 2>&1 || timeout 60 docker pull -q "$1" >/dev/null 2>&1; }
  if have python:3.11-slim-bookworm && have debian:bookworm-slim; then
    : "${CLINIC_APP_BASE_IMAGE:=python:3.11-slim-bookworm}" "${CLINIC_SERVICE_BASE_IMAGE:=debian:bookworm-slim}"
  else
    own=$(bash docker/debian/build.sh bookworm)
    : "${CLINIC_APP_BASE_IMAGE:=$own}" "${CLINIC_SERVICE_BASE_IMAGE:=$own}"
  fi
fi
export CLINIC_APP_BASE_IMAGE CLINIC_SERVICE_BASE_IMAGE
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-clinic-dev}
exec docker-compose -f "$file" "$@"

#!/usr/bin/env bash
# Make sure a Docker engine answers. As root on Debian: install docker.io and
# start dockerd in the background when none runs; elsewhere say what is missing.
set -euo pipefail
if docker info >/dev/null 2>&1; then exit 0; fi
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
  echo "docker-engine: no Docker engine answers; start one (or run as root on Debian to have it installed)" >&2
  exit 1
fi
if ! command -v dockerd >/dev/null; then
  echo "docker-engine: installing docker.io"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi
if ! pgrep -x dockerd >/dev/null; then
  echo "docker-engine: starting dockerd (log: /var/log/dockerd.log)"
  # Its own session: stopping the job that started it (Ctrl-C, kill of its process group)
  # must not take the engine, and every container of other jobs, down with it.
  setsid nohup dockerd >/var/log/dockerd.log 2>&1 </dev/null &
fi
for _ in $(seq 60); do
  docker info >/dev/null 2>&1 && exit 0
  sleep 1
done
echo "docker-engine: dockerd did not answer within 60 s; see /var/log/dockerd.log" >&2
exit 1

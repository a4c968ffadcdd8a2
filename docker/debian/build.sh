#!/usr/bin/env bash
# Build clinic-debian:<codename> (default bookworm), the base the offline app,
# Redis and PostgreSQL images are built from:
#   build.sh [12|13|bookworm|trixie]
# Rebuilt only when its inputs (this script, the Dockerfile, the CAs) change.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=docker/debian-base.sh
source "$here/../debian-base.sh"
name=$(debian_codename "${1:-bookworm}")
image="clinic-debian:$name"

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
copy_extra_cas "$ctx"
cp "$here/Dockerfile" "$ctx/"
inputs=$( (cat "$here/build.sh" "$here/Dockerfile" "$here/../debian-base.sh"; cat "$ctx"/extra-ca/* 2>/dev/null || true) | sha256sum | cut -c1-16)
have=$(docker image inspect -f '{{ index .Config.Labels "clinic.inputs" }}' "$image" 2>/dev/null || true)
if [[ $have == "$inputs" ]]; then
  echo "$image is up to date" >&2
else
  base=$(debian_base "$name")
  echo "building $image from $base" >&2
  docker build -q --label "clinic.inputs=$inputs" --build-arg "BASE=$base" -t "$image" "$ctx" >/dev/null
fi
echo "$image"

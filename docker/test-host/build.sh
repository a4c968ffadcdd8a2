#!/usr/bin/env bash
# Build the systemd test-host images: clinic-test-host:debian12 and :debian13.
#   build.sh [12] [13]          (default: both)
# Base: see docker/debian-base.sh (a registry's debian:<codename>, else debootstrap).
# Extra CA certificates from $TEST_HOST_EXTRA_CA_DIR (default /usr/local/share/ca-certificates)
# are trusted inside, so apt and pip work behind TLS-inspecting proxies.
# An image is rebuilt only when its inputs (this script, the Dockerfile, the CAs) change.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=docker/debian-base.sh
source "$here/../debian-base.sh"
releases=("$@")
[[ ${#releases[@]} -gt 0 ]] || releases=(12 13)

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
copy_extra_cas "$ctx"
cp "$here/Dockerfile" "$ctx/"
inputs=$( (cat "$here/build.sh" "$here/Dockerfile" "$here/../debian-base.sh"; cat "$ctx"/extra-ca/* 2>/dev/null || true) | sha256sum | cut -c1-16)

for release in "${releases[@]}"; do
  name=$(debian_codename "$release")
  image="clinic-test-host:debian$release"
  have=$(docker image inspect -f '{{ index .Config.Labels "clinic.inputs" }}' "$image" 2>/dev/null || true)
  if [[ $have == "$inputs" ]]; then
    echo "build.sh: $image is up to date"
    continue
  fi
  base=$(debian_base "$name")
  echo "build.sh: building $image from $base"
  docker build -q --label "clinic.inputs=$inputs" --build-arg "BASE=$base" -t "$image" "$ctx" >/dev/null
done

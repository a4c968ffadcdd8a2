#!/usr/bin/env bash
# Build the systemd test-host images: clinic-test-host:debian12 and :debian13.
#   build.sh [12] [13]          (default: both)
# Base: `docker pull debian:<codename>` when a registry answers, else debootstrap
# from Debian's mirror and `docker import`. Extra CA certificates from
# $TEST_HOST_EXTRA_CA_DIR (default /usr/local/share/ca-certificates) are trusted
# inside, so apt and pip work behind TLS-inspecting proxies.
# An image is rebuilt only when its inputs (this script, the Dockerfile, the CAs) change.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
releases=("$@")
[[ ${#releases[@]} -gt 0 ]] || releases=(12 13)
ca_dir=${TEST_HOST_EXTRA_CA_DIR:-/usr/local/share/ca-certificates}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/extra-ca"
if [[ -d $ca_dir ]]; then
  find "$ca_dir" -maxdepth 2 -name '*.crt' -exec cp {} "$ctx/extra-ca/" \;
fi
cp "$here/Dockerfile" "$ctx/"
inputs=$( (cat "$here/build.sh" "$here/Dockerfile"; cat "$ctx"/extra-ca/* 2>/dev/null || true) | sha256sum | cut -c1-16)

codename() { case $1 in 12) echo bookworm ;; 13) echo trixie ;; *) echo "build.sh: unknown Debian release '$1' (12 or 13)" >&2; exit 2 ;; esac; }

base_image() {  # prints the base image name for a codename, creating it if needed
  local name=$1 base="clinic-debian-base:$1"
  if docker image inspect "$base" >/dev/null 2>&1; then echo "$base"; return; fi
  if timeout 60 docker pull -q "debian:$name" >/dev/null 2>&1; then echo "debian:$name"; return; fi
  if ! command -v debootstrap >/dev/null; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    else
      echo "build.sh: no registry answers and debootstrap is missing (apt-get install debootstrap)" >&2; exit 1
    fi
  fi
  local root
  root=$(mktemp -d)
  echo "build.sh: debootstrap $name from $mirror (about a minute)" >&2
  debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,python3,sudo,ca-certificates \
    "$name" "$root" "$mirror" >"$root.log" 2>&1 || { tail -20 "$root.log" >&2; rm -rf "$root"; exit 1; }
  tar -C "$root" -c . | docker import - "$base" >/dev/null
  rm -rf "$root" "$root.log"
  echo "$base"
}

for release in "${releases[@]}"; do
  name=$(codename "$release")
  image="clinic-test-host:debian$release"
  have=$(docker image inspect -f '{{ index .Config.Labels "clinic.inputs" }}' "$image" 2>/dev/null || true)
  if [[ $have == "$inputs" ]]; then
    echo "build.sh: $image is up to date"
    continue
  fi
  base=$(base_image "$name")
  echo "build.sh: building $image from $base"
  docker build -q --label "clinic.inputs=$inputs" --build-arg "BASE=$base" -t "$image" "$ctx" >/dev/null
done

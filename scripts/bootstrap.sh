#!/usr/bin/env bash
# Install what `make test`, `make run` and `make bench` need, idempotently.
#   - Debian packages (as root): redis-server and postgresql for the real-server tests;
#     with `stack` also docker-compose, vagrant, vagrant-libvirt (tests/stack validates the
#     Vagrantfile's libvirt block, which needs the provider plugin), chromium and chromium-driver.
#   - .venv: the toolchain and the app, from pinned requirements.
# Elsewhere (not root, not Debian) it says exactly what is missing instead.
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PACKAGES=(redis-server postgresql python3-venv)
if [[ ${1:-} == stack ]]; then
  DEB_PACKAGES+=(docker-compose vagrant vagrant-libvirt chromium chromium-driver)
fi
missing=()
for pkg in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "bootstrap: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "bootstrap: missing Debian packages: ${missing[*]}" >&2
    echo "bootstrap: run as root on Debian, or: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "bootstrap: Python 3.11+ is required ($PYTHON is $("$PYTHON" --version 2>&1))" >&2
  exit 1
fi
stamp=.venv/.requirements.sha256
want=$(cat requirements/*.txt app/pyproject.toml | sha256sum | cut -d' ' -f1)
if [[ ! -x .venv/bin/python || ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  echo "bootstrap: creating .venv from requirements/"
  "$PYTHON" -m venv .venv
  .venv/bin/pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/pip install -q -r requirements/dev.txt 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -c "import django, celery, kombu, pgmq, pytest" # fail loudly if the install did not take
  echo "$want" > "$stamp"
fi

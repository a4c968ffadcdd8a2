#!/usr/bin/env bash
# Install what a make target needs, idempotently: scripts/bootstrap.sh [run|test|stack]
#   run    python3-venv for .venv: `make run` (SQLite, or the external Redis REDIS_URL names),
#          lint, the preflight tests, `make up` and `make molecule` need nothing more;
#   test   (the default) also redis-server and postgresql, which the app suite and `make bench`
#          start themselves, procps (pgrep, in the app suite) and git (the deploy tests and the
#          own-project scenario make repositories);
#   stack  python3-venv, docker-compose, vagrant, vagrant-libvirt (tests/stack validates the
#          Vagrantfile's libvirt block, which needs the provider plugin), chromium, chromium-driver.
# Then .venv: the toolchain and the app, from pinned requirements.
# Root is needed only to install a missing package (on Debian): otherwise the script names
# exactly what is missing and the apt-get command, and fails.
set -euo pipefail
cd "$(dirname "$0")/.."

target=${1:-test}
case "$#:$target" in
  [01]:run) DEB_PACKAGES=(python3-venv) ;;
  [01]:test) DEB_PACKAGES=(redis-server postgresql python3-venv procps git) ;;
  1:stack) DEB_PACKAGES=(python3-venv docker-compose vagrant vagrant-libvirt chromium chromium-driver) ;;
  *)
    echo "usage: scripts/bootstrap.sh [run|test|stack]   (default: test)" >&2
    exit 2
    ;;
esac
missing=()
for pkg in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "bootstrap ($target): installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "bootstrap ($target): missing Debian packages: ${missing[*]}" >&2
    echo "bootstrap ($target): install them as root (or run this as root on Debian), then again:" >&2
    echo "  sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "bootstrap: Python 3.11+ is required ($PYTHON is $("$PYTHON" --version 2>&1))" >&2
  exit 1
fi
stamp=.venv/.requirements.sha256
want=$(cat requirements/*.txt {app,packages/*}/pyproject.toml | sha256sum | cut -d' ' -f1)
if [[ ! -x .venv/bin/python || ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  echo "bootstrap: creating .venv from requirements/"
  "$PYTHON" -m venv .venv
  .venv/bin/pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/pip install -q -r requirements/dev.txt 2>&1 | grep -v "^WARNING: Location" || true
  # The companion package, editable: the app and its tests import it from packages/.
  .venv/bin/pip install -q --no-deps -e packages/django-celery-deploy 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -c "import django, celery, kombu, pgmq, pytest, django_celery_deploy" # fail loudly if the install did not take
  echo "$want" > "$stamp"
fi

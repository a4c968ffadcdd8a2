# Thin entry points; the logic lives in scripts/.
.PHONY: help bootstrap test test-app lint run bench clean

BROKERS ?= sqlite redis postgres
PY := .venv/bin/python

help:  ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

bootstrap:  ## Install Debian packages (as root) and the pinned toolchain into .venv.
	@bash scripts/bootstrap.sh

test: bootstrap lint test-app  ## Everything CI runs: lint, then the app suite on every broker.

lint: bootstrap  ## ruff on the app, tests and scripts.
	.venv/bin/ruff check app tests scripts
	.venv/bin/ruff format --check app tests scripts
	cd app && DJANGO_DEBUG=true APP_DATA_DIR=$$(mktemp -d) ../$(PY) manage.py makemigrations --check --dry-run

test-app: bootstrap  ## The app suite once per broker (BROKERS="sqlite redis postgres").
	@bash scripts/test-app.sh $(BROKERS)

run: bootstrap  ## The whole stack here under Supervisor (SQLite; Redis if REDIS_URL is set). Ctrl-C stops it.
	$(PY) scripts/run.py

bench: bootstrap  ## Throughput and latency per broker against a bare Celery worker: docs/bench.json + .png
	$(PY) scripts/bench.py

clean:  ## Remove .venv and var/.
	rm -rf .venv var

# Thin entry points; the logic lives in scripts/.
.PHONY: help bootstrap bootstrap-test test test-app test-package test-deploy test-stack lint molecule up down compose-files compose-up compose-down run bench clean collection

BROKERS ?= sqlite redis postgres
PY := .venv/bin/python

help:  ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

# Each target bootstraps only what it needs; as root on Debian the script installs missing packages,
# otherwise it names them (with the apt-get command) and stops.
bootstrap:  ## The pinned toolchain into .venv (needs python3-venv): enough for run, lint, up, molecule.
	@bash scripts/bootstrap.sh run

bootstrap-test:  ## bootstrap, plus redis-server and postgresql (the app suite and bench start them), procps and git.
	@bash scripts/bootstrap.sh test

test: bootstrap-test lint test-package test-app test-deploy test-stack molecule  ## Everything CI runs: lint, companion package, app suite per broker, preflight, compose/Vagrant/browser, Molecule.

lint: bootstrap  ## ruff, yamllint, ansible-lint (production profile), the migrations check.
	@echo "=== make $@ at $$(date +%T)"
	.venv/bin/ruff check app packages tests scripts docker ansible molecule
	.venv/bin/ruff format --check app packages tests scripts docker ansible molecule
	$(PY) scripts/compose.py --check
	.venv/bin/yamllint -s .
	PATH=$(CURDIR)/.venv/bin:$$PATH ANSIBLE_VAULT_PASSWORD_FILE=inventory/local/vault-password.txt .venv/bin/ansible-lint -q --profile production
	cd app && DJANGO_DEBUG=true APP_DATA_DIR=$$(mktemp -d) ../$(PY) manage.py makemigrations --check --dry-run

test-package: bootstrap  ## The companion package's own suite (packages/django-celery-deploy), on its own test project.
	@echo "=== make $@ at $$(date +%T)"
	cd packages/django-celery-deploy && ../../$(PY) -m pytest

test-app: bootstrap-test  ## The app suite once per broker (BROKERS="sqlite redis postgres").
	@echo "=== make $@ at $$(date +%T)"
	@bash scripts/test-app.sh $(BROKERS)

test-deploy: bootstrap  ## The preflight against bad inventories, the collection built and installed offline (no host contacted).
	@echo "=== make $@ at $$(date +%T)"
	$(PY) -m pytest -p no:cacheprovider -n 2 tests/deploy

test-stack: bootstrap  ## The compose stacks (both brokers), vagrant up --provider=docker, headless Chromium.
	@echo "=== make $@ at $$(date +%T)"
	@bash scripts/bootstrap.sh stack
	$(PY) -m pytest -p no:cacheprovider tests/stack

SCENARIO ?=
molecule: bootstrap  ## Molecule scenarios on Debian 12 and 13, two jobs at a time (SCENARIO=default|db-broker|own-project|cluster; all by default).
	@echo "=== make $@ at $$(date +%T)"
	@bash scripts/molecule.sh $(SCENARIO)

collection: bootstrap  ## Build the collection tarball (django_celery-deploy-<version>.tar.gz) into var/collection/.
	.venv/bin/ansible-galaxy collection build ansible --output-path var/collection --force

up: bootstrap  ## Deploy the whole stack with site.yml into a local Debian container; prints URLs and credentials.
	@bash scripts/up.sh

down:  ## Remove the make-up container (and only it).
	@bash scripts/up.sh --down

compose-files:  ## Render docker/compose*.yml from docker/compose.yml.j2, queues.json and the celery role's defaults.
	$(PY) scripts/compose.py

BROKER ?= redis
compose-up: bootstrap  ## The compose dev stack in the foreground (BROKER=redis|database); ports on 127.0.0.1.
	@bash scripts/bootstrap.sh stack
	@bash scripts/compose.sh $(BROKER) up --build

compose-down:  ## Stop the compose dev stack and delete its volumes (BROKER=redis|database).
	@bash scripts/compose.sh $(BROKER) down -v --remove-orphans

run: bootstrap  ## The whole stack here under Supervisor (SQLite; Redis if REDIS_URL is set). Ctrl-C stops it.
	$(PY) scripts/run.py

bench: bootstrap-test  ## Throughput and latency per broker against a bare Celery worker: docs/bench.json + .png
	$(PY) scripts/bench.py

clean:  ## Remove .venv and var/.
	rm -rf .venv var

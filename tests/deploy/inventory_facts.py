"""What the deploy tests' inventories share: long-enough secrets and the clinic's project description."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
# Secrets long enough for every rule (every inventory has them unless a test says
# otherwise); distinctive, so a test can prove none is printed.
SECRETS = {
    "django_secret_key": "k" * 60,
    "django_api_token": "t" * 40,
    "django_flower_basic_auth": "admin:" + "f" * 16,
    "postgresql_app_password": "p" * 16,
}
# The project these inventories describe: the clinic example, as inventory/local says.
PROJECT = yaml.safe_load((ROOT / "inventory" / "local" / "group_vars" / "all" / "project.yml").read_text())

"""The roles' settings that the paths outside Ansible (compose, make run) render too.

One source each: the per-queue worker settings are the celery role's, merged key by
key as the role merges them (vars/main.yml's celery_queue_settings), and the Redis
ACL rules are the redis role's.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
ROLES = ROOT / "ansible" / "roles"


def _yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def queue_settings() -> tuple[list[dict], int]:
    """Each queue of the routing table with its worker settings, and the stop grace in seconds."""
    routing = json.loads((ROOT / "app" / "config" / "queues.json").read_text())
    defaults = _yaml(ROLES / "celery" / "defaults" / "main.yml")
    builtin = _yaml(ROLES / "celery" / "vars" / "main.yml")
    queues = []
    for name, description in routing["queues"].items():
        settings = {
            **builtin["celery_builtin_queue_defaults"],
            **(defaults["celery_queue_defaults"] or {}),
            **builtin["celery_builtin_queue_settings"].get(name, {}),
            **(defaults["celery_queue_overrides"] or {}).get(name, {}),
        }
        queues.append({"name": name, "description": description, **settings})
    return queues, int(defaults["celery_stop_grace_seconds"])


def redis_celery_permissions() -> str:
    return _yaml(ROLES / "redis" / "defaults" / "main.yml")["redis_celery_permissions"]


def redis_default_user_rules() -> str:
    return _yaml(ROLES / "redis" / "vars" / "main.yml")["redis_default_user_rules"]

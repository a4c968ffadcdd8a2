"""The roles' settings that the paths outside Ansible (compose, make run, start_celery, the
tests) render too.

One source each: the per-queue worker settings are the celery role's, merged key by
key as the role merges them (vars/main.yml's celery_queue_settings), a worker's command
line is the supervisor role's celery_worker_argv.j2, and the Redis ACL rules are the
redis role's.
"""

from __future__ import annotations

import json
from pathlib import Path

import jinja2
import yaml

ROOT = Path(__file__).resolve().parent.parent
ROLES = ROOT / "ansible" / "roles"
SUPERVISOR_TEMPLATES = ROLES / "supervisor" / "templates"


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


def project_programs() -> dict[str, str]:
    """What the clinic example's programs run, from the inventory that describes it
    (inventory/local/group_vars/all/project.yml), with the django role's defaults."""
    project = _yaml(ROOT / "inventory" / "local" / "group_vars" / "all" / "project.yml")
    module = project.get("django_project_module") or project["django_app_name"]
    return {
        "celery_app": project.get("django_celery_app", module),
        "wsgi_app": project.get("django_wsgi_app", f"{module}.wsgi:application"),
    }


def redis_celery_permissions() -> str:
    return _yaml(ROLES / "redis" / "defaults" / "main.yml")["redis_celery_permissions"]


def redis_default_user_rules() -> str:
    return _yaml(ROLES / "redis" / "vars" / "main.yml")["redis_default_user_rules"]


def worker_argv(celery: list[str], app: str, queue: dict, hostname: str | None = None, loglevel: str = "INFO") -> list:
    """A worker's command line from its one definition, the supervisor role's celery_worker_argv.j2
    (which the deploy, compose and make run render too)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(SUPERVISOR_TEMPLATES), undefined=jinja2.StrictUndefined)  # noqa: S701 - JSON, not HTML
    macro = env.get_template("celery_worker_argv.j2").module.worker_argv
    return json.loads(str(macro(celery, app, queue, hostname, loglevel)))

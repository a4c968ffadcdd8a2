"""Queues and task routes, read from queues.json (shared with Ansible)."""

from __future__ import annotations

from pathlib import Path

from django_celery_deploy.routing import QueueTable

QUEUES_FILE = Path(__file__).with_name("queues.json")
TABLE = QueueTable.from_file(QUEUES_FILE)

QUEUE_NAMES: tuple[str, ...] = TABLE.queue_names
DEFAULT_QUEUE: str = TABLE.default_queue
ROUTES: dict[str, str] = TABLE.routes
TASK_QUEUES = TABLE.task_queues
TASK_ROUTES = TABLE.task_routes
queue_for = TABLE.queue_for

"""Queues and task routes, read from queues.json (shared with Ansible)."""

from __future__ import annotations

import json
from pathlib import Path

from kombu import Exchange, Queue

QUEUES_FILE = Path(__file__).with_name("queues.json")


def _load() -> dict:
    data = json.loads(QUEUES_FILE.read_text(encoding="utf-8"))
    queues = data["queues"]
    unknown = {queue for queue in data["routes"].values() if queue not in queues}
    if unknown:
        raise ValueError(f"{QUEUES_FILE}: routes name unknown queues {sorted(unknown)}")
    if data["default_queue"] not in queues:
        raise ValueError(f"{QUEUES_FILE}: default_queue is not one of the queues")
    return data


_DATA = _load()

QUEUE_NAMES: tuple[str, ...] = tuple(_DATA["queues"])
DEFAULT_QUEUE: str = _DATA["default_queue"]
ROUTES: dict[str, str] = dict(_DATA["routes"])

# One direct exchange per queue with the queue's name as routing key: the
# simplest shape every transport (Redis, pgmq, SQLAlchemy) supports.
TASK_QUEUES = tuple(Queue(name, Exchange(name, type="direct"), routing_key=name) for name in QUEUE_NAMES)
TASK_ROUTES = {task: {"queue": queue, "routing_key": queue} for task, queue in ROUTES.items()}


def queue_for(task_name: str) -> str:
    return ROUTES.get(task_name, DEFAULT_QUEUE)

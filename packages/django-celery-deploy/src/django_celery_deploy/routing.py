"""The queue table: queues, the default queue and task routes, from one JSON file.

The file is the one the Ansible roles read (``celery_routing_file``), so that
the workers Supervisor runs and the routes the app sends with cannot disagree::

    {"default_queue": "default",
     "queues": {"default": "what it is for", "reports": "..."},
     "routes": {"myapp.tasks.build_report": "reports"}}

``queues`` may also be a list of names. In settings::

    QUEUES = QueueTable.from_file(BASE_DIR / "queues.json")
    CELERY_TASK_DEFAULT_QUEUE = QUEUES.default_queue
    CELERY_TASK_QUEUES = QUEUES.task_queues
    CELERY_TASK_ROUTES = QUEUES.task_routes
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from kombu import Exchange, Queue


class RoutingError(ValueError):
    """The queue table is malformed; the message names the file and the fix."""


@dataclass(frozen=True)
class QueueTable:
    queue_names: tuple[str, ...]
    default_queue: str
    routes: dict[str, str]
    source: str = "<dict>"

    @classmethod
    def from_dict(cls, data: dict, source: str = "<dict>") -> QueueTable:
        if not isinstance(data, dict):
            raise RoutingError(f"{source}: expected a JSON object with queues, default_queue and routes")
        queues = data.get("queues")
        names = tuple(queues) if isinstance(queues, (dict, list)) else ()
        if not names or not all(isinstance(name, str) and name for name in names):
            raise RoutingError(f"{source}: 'queues' must be a non-empty list or mapping of queue names")
        default = data.get("default_queue", names[0])
        if default not in names:
            raise RoutingError(f"{source}: default_queue {default!r} is not one of the queues {list(names)}")
        routes = data.get("routes") or {}
        if not isinstance(routes, dict):
            raise RoutingError(f"{source}: 'routes' must map task names to queue names")
        unknown = sorted({queue for queue in routes.values() if queue not in names})
        if unknown:
            raise RoutingError(f"{source}: routes name unknown queues {unknown}; the queues are {list(names)}")
        return cls(names, default, dict(routes), source)

    @classmethod
    def from_file(cls, path: str | Path) -> QueueTable:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RoutingError(f"{path}: cannot read the queue table: {exc}") from exc
        return cls.from_dict(data, str(path))

    @property
    def task_queues(self) -> tuple[Queue, ...]:
        # One direct exchange per queue with the queue's name as routing key: the
        # simplest shape every transport (Redis, pgmq, SQLAlchemy) supports.
        return tuple(Queue(name, Exchange(name, type="direct"), routing_key=name) for name in self.queue_names)

    @property
    def task_routes(self) -> dict[str, dict[str, str]]:
        return {task: {"queue": queue, "routing_key": queue} for task, queue in self.routes.items()}

    def queue_for(self, task_name: str) -> str:
        return self.routes.get(task_name, self.default_queue)

"""Celery logs through Django's LOGGING (settings.py), not a configuration of its own."""

from __future__ import annotations

import logging
import logging.config

from celery._state import get_current_task


class TaskFilter(logging.Filter):
    """The task a record was logged in: `task` (" name[id]" or "") for the plain format,
    task_name and task_id (None outside a task) for JSON."""

    def filter(self, record: logging.LogRecord) -> bool:
        task = get_current_task()
        request_id = getattr(getattr(task, "request", None), "id", None) if task else None
        record.task_name = task.name if request_id else None
        record.task_id = request_id
        record.task = f" {task.name}[{request_id}]" if request_id else ""
        return True


def setup_logging(loglevel=None, **kwargs) -> None:
    """Receiver of Celery's setup_logging: Django's LOGGING, at the level of -l when one is given."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
    if loglevel:
        logging.getLogger().setLevel(loglevel)

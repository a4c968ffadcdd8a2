"""The queues the project's Celery app declares: what the probe, /healthz and the commands cover."""

from __future__ import annotations


def queue_names() -> tuple[str, ...]:
    from celery import current_app

    declared = current_app.conf.task_queues
    if declared:
        return tuple(queue.name for queue in declared)
    # No task_queues: Celery creates and consumes only the default queue.
    return (current_app.conf.task_default_queue,)

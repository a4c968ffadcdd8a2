"""The drills' and the benchmark's tasks: they measure the machinery (what a failure lost or ran
twice, how fast a queue drains), not the clinic's work. Not part of the seed."""

from __future__ import annotations

import time

from celery import shared_task
from django.utils import timezone

from ..models import TaskExecution, TaskRecord


@shared_task(name="clinic.tasks.drill_work", bind=True)
def drill_work(self, seconds: float = 1.0) -> str:
    """The drills' task: records each of its runs (TaskExecution), so that what a
    failure lost or ran twice is counted by the task itself, not inferred."""
    run = TaskExecution.objects.create(task_id=self.request.id, hostname=self.request.hostname or "unknown")
    time.sleep(seconds)
    TaskExecution.objects.filter(pk=run.pk).update(finished_at=timezone.now())
    return self.request.id


@shared_task(name="clinic.tasks.noop")
def noop(sent_at: float | None = None) -> float:
    """The benchmark's task: measures the machinery, not the work. Returns when it started."""
    return time.time()


@shared_task(name="clinic.tasks.touch_record")
def touch_record(sent_at: float | None = None) -> float:
    """The benchmark's small database task: one insert. Returns when it started."""
    started = time.time()
    TaskRecord.objects.create(task_id=f"bench-{time.time_ns()}", name="clinic.tasks.touch_record")
    return started

"""The drills' task: it measures the machinery (what a failure lost or ran twice), not the
clinic's work; `manage.py drill` sends it on the deployed hosts. Not part of the seed. The
benchmark's tasks live with the benchmark (scripts/bench_app_tasks.py)."""

from __future__ import annotations

import time

from celery import shared_task
from django.utils import timezone

from ..models import TaskExecution


@shared_task(name="clinic.tasks.drill_work", bind=True)
def drill_work(self, seconds: float = 1.0) -> str:
    """The drills' task: records each of its runs (TaskExecution), so that what a
    failure lost or ran twice is counted by the task itself, not inferred."""
    run = TaskExecution.objects.create(task_id=self.request.id, hostname=self.request.hostname or "unknown")
    time.sleep(seconds)
    TaskExecution.objects.filter(pk=run.pk).update(finished_at=timezone.now())
    return self.request.id

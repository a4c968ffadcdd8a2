"""The benchmark's tasks for the app's worker. They measure the machinery, not the clinic's
work, so they ship with the benchmark, not the app: scripts/bench_settings.py (the app's own
settings plus this module in CELERY_IMPORTS) makes the benchmark's app worker load them."""

from __future__ import annotations

import time

from celery import shared_task


@shared_task(name="bench.noop")
def noop(sent_at: float | None = None) -> float:
    """Measures the machinery, not the work. Returns when it started."""
    return time.time()


@shared_task(name="bench.touch_record")
def touch_record(sent_at: float | None = None) -> float:
    """One small database write, through the app's models. Returns when it started."""
    from clinic.models import TaskRecord

    started = time.time()
    TaskRecord.objects.create(task_id=f"bench-{time.time_ns()}", name="bench.touch_record")
    return started

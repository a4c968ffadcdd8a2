"""Beat (DatabaseScheduler) fires schedules from the database; the default schedule syncs idempotently."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.core.management import call_command
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from clinic.models import WorkerHeartbeat
from tests.support.procs import start_worker


@pytest.fixture
def monitoring_worker(log_dir):
    worker = start_worker(["monitoring"], log_dir, name="beat-monitoring")
    worker.wait_for_log("ready.", timeout=90)
    yield worker
    worker.stop()


def test_default_schedule_syncs_into_the_database_idempotently():
    call_command("sync_schedule", verbosity=0)
    call_command("sync_schedule", verbosity=0)
    names = set(settings.CELERY_BEAT_SCHEDULE)
    tasks = PeriodicTask.objects.filter(name__in=names)
    assert tasks.count() == len(names)
    reminders = PeriodicTask.objects.get(name="send-daily-reminders")
    assert (reminders.crontab.hour, reminders.crontab.minute) == ("8", "0")
    weekly = PeriodicTask.objects.get(name="generate-weekly-report")
    assert weekly.crontab.day_of_week == "mon"
    assert PeriodicTask.objects.get(name="check-expired-appointments").crontab.minute == "*/5"
    assert json.loads(PeriodicTask.objects.get(name="health-check").kwargs) == {"source": "beat"}


def test_beat_fires_a_database_schedule(monitoring_worker, beat, until):
    every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
    task = PeriodicTask.objects.create(
        name="beat-test",
        interval=every_second,
        task="clinic.tasks.health_check",
        kwargs=json.dumps({"source": "beat-test"}),
    )
    try:
        beat.wait_for_log("beat: Starting", timeout=60)

        def fired_three_times():
            row = WorkerHeartbeat.objects.filter(source="beat-test", queue="monitoring").first()
            return row and row.count >= 3

        until(fired_three_times, timeout=45, interval=0.5, message="beat-test fired three times")
        assert "Scheduler: Sending due task beat-test" in beat.output()
    finally:
        task.delete()

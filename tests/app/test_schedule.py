"""Settings seed beat's schedule; the admin owns each entry's timing from then on.

`manage.py sync_schedule` runs after every `migrate`, and beat seeds the schedule
when it starts: neither may undo what the admin retimed or paused.
"""

from __future__ import annotations

import io
import json

import pytest
from celery.schedules import crontab
from django.core.management import call_command
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from tests.support.procs import start_beat

TIMING = ("interval_id", "crontab_id", "solar_id", "clocked_id", "enabled")


def _crontab(**fields) -> CrontabSchedule:
    row = CrontabSchedule.from_schedule(crontab(**fields))
    row.save()
    return row


@pytest.fixture
def retimed():
    """What an admin does on the periodic tasks page: retime one entry, change another's kind, pause a third."""
    call_command("sync_schedule", verbosity=0)
    names = ("send-daily-reminders", "generate-weekly-report", "cleanup-old-records")
    before = {name: PeriodicTask.objects.filter(name=name).values(*TIMING).get() for name in names}

    reminders = PeriodicTask.objects.get(name="send-daily-reminders")
    reminders.crontab = _crontab(hour=9, minute=30)
    reminders.save()

    weekly = PeriodicTask.objects.get(name="generate-weekly-report")
    weekly.crontab = None
    weekly.interval, _ = IntervalSchedule.objects.get_or_create(every=2, period=IntervalSchedule.HOURS)
    weekly.save()

    cleanup = PeriodicTask.objects.get(name="cleanup-old-records")
    cleanup.enabled = False
    cleanup.save()

    yield
    for name, fields in before.items():
        task = PeriodicTask.objects.get(name=name)
        for field, value in fields.items():
            setattr(task, field, value)
        task.save()


def assert_the_admins_edits_are_kept():
    reminders = PeriodicTask.objects.get(name="send-daily-reminders")
    assert (reminders.crontab.hour, reminders.crontab.minute) == ("9", "30")
    assert reminders.enabled
    weekly = PeriodicTask.objects.get(name="generate-weekly-report")
    assert weekly.crontab is None
    assert (weekly.interval.every, weekly.interval.period) == (2, IntervalSchedule.HOURS)
    assert not PeriodicTask.objects.get(name="cleanup-old-records").enabled


def test_an_entry_the_admin_retimed_or_paused_keeps_its_timing_through_sync_schedule_and_migrate(retimed):
    call_command("sync_schedule", verbosity=0)
    assert_the_admins_edits_are_kept()
    call_command("migrate", verbosity=0)  # runs sync_schedule again (post_migrate)
    assert_the_admins_edits_are_kept()


def test_an_entry_the_admin_retimed_or_paused_keeps_its_timing_when_beat_starts(retimed, every_second_task, log_dir):
    beat = start_beat(log_dir)
    try:
        # Beat sends only after it has set up (and seeded) its schedule.
        beat.wait_for_log("Sending due task every-second-task", timeout=60)
        assert_the_admins_edits_are_kept()
    finally:
        beat.stop()


def test_an_entry_missing_from_the_database_is_added_from_settings():
    call_command("sync_schedule", verbosity=0)
    PeriodicTask.objects.filter(name="cache-warmup").delete()
    call_command("sync_schedule", verbosity=0)
    warmup = PeriodicTask.objects.get(name="cache-warmup")
    assert warmup.enabled and warmup.task == "clinic.tasks.cache_warmup"
    assert (warmup.crontab.hour, warmup.crontab.minute) == ("2", "0")


def test_what_an_entry_runs_follows_settings_while_its_timing_stays_the_admins(retimed):
    reminders = PeriodicTask.objects.get(name="send-daily-reminders")
    reminders.task, reminders.kwargs = "clinic.tasks.renamed_long_ago", json.dumps({"stale": True})
    reminders.save()
    call_command("sync_schedule", verbosity=0)
    reminders.refresh_from_db()
    assert (reminders.task, json.loads(reminders.kwargs)) == ("clinic.tasks.send_daily_reminders", {})
    assert_the_admins_edits_are_kept()


def test_sync_schedule_reset_puts_the_settings_timing_back_on_the_named_entries_only(retimed):
    call_command("sync_schedule", "--reset", "send-daily-reminders", "cleanup-old-records", verbosity=0)
    reminders = PeriodicTask.objects.get(name="send-daily-reminders")
    assert (reminders.crontab.hour, reminders.crontab.minute) == ("8", "0")
    assert PeriodicTask.objects.get(name="cleanup-old-records").enabled
    weekly = PeriodicTask.objects.get(name="generate-weekly-report")  # not named: still the admin's
    assert weekly.crontab is None and weekly.interval.every == 2


def test_sync_schedule_reset_refuses_a_name_that_is_not_in_settings():
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="not in CELERY_BEAT_SCHEDULE: no-such-entry"):
        call_command("sync_schedule", "--reset", "no-such-entry", verbosity=0)


def test_an_entry_not_in_settings_is_left_in_the_database_and_named(every_second_task):
    call_command("sync_schedule", verbosity=0)
    out = io.StringIO()
    call_command("sync_schedule", stdout=out)
    assert "0 added, 0 reset to settings' timing, 0 updated" in out.getvalue()  # idempotent: no write at all
    assert PeriodicTask.objects.filter(name="every-second-task", enabled=True).exists()
    (line,) = [line for line in out.getvalue().splitlines() if "left as they are" in line]
    assert "every-second-task" in line.split(": ", 1)[1].split(", ")


def test_sync_schedule_reset_without_names_puts_the_settings_timing_back_everywhere(retimed):
    call_command("sync_schedule", "--reset", verbosity=0)
    reminders = PeriodicTask.objects.get(name="send-daily-reminders")
    assert (reminders.crontab.hour, reminders.crontab.minute) == ("8", "0")
    weekly = PeriodicTask.objects.get(name="generate-weekly-report")
    assert weekly.interval is None and weekly.crontab.day_of_week == "mon"
    assert PeriodicTask.objects.get(name="cleanup-old-records").enabled

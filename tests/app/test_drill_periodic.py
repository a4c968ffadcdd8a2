"""`manage.py drill periodic` and `periodic-report`: the beat drill's instrument counts what it claims."""

from __future__ import annotations

import io
import json
import time
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command
from django_celery_beat.models import PeriodicTask

from clinic.models import TaskExecution


def drill(*args: str) -> dict:
    out = io.StringIO()
    call_command("drill", *args, stdout=out)
    return json.loads(out.getvalue())


@pytest.fixture
def window():
    """A start time far in the future: the suite's other drills' runs (same database) are not in it."""
    start = time.time() + 10**6
    yield start
    TaskExecution.objects.filter(started_at__gte=datetime.fromtimestamp(start - 3600, UTC)).delete()


def run_at(seconds: float, task_id: str) -> None:
    TaskExecution.objects.create(task_id=task_id, hostname="w", started_at=datetime.fromtimestamp(seconds, UTC))


def test_periodic_puts_the_drill_task_on_beats_schedule_and_off_again():
    drill("periodic", "--every", "2", "--queue", "default")
    entry = PeriodicTask.objects.get(name="drill-periodic")
    assert (entry.task, entry.interval.every, entry.queue) == ("clinic.tasks.drill_work", 2, "default")
    assert entry.enabled
    drill("periodic", "--off")
    assert not PeriodicTask.objects.get(name="drill-periodic").enabled


def test_periodic_refuses_an_unknown_queue():
    with pytest.raises(CommandError, match="--queue one of"):
        drill("periodic", "--queue", "nowhere")


def test_a_run_within_half_a_period_of_the_one_before_counts_as_sent_twice(window):
    since = window
    # 4.3: a second beat's send; 6.5: the dead beat's last send, run just after the death at 6.2;
    # 20: the standby's first.
    for i, offset in enumerate([0, 2, 4, 4.3, 6.5, 20, 22]):
        run_at(since + offset, f"p{i}")
    figures = drill("periodic-report", "--since", str(since - 1), "--every", "2", "--after", str(since + 6.2))
    assert figures == {"runs": 7, "duplicated": 1, "largest_gap_s": 13.5, "next_run_after_s": 13.8}


def test_runs_before_the_drill_started_are_not_counted(window):
    now = window
    run_at(now - 50, "old")
    run_at(now + 1, "new")
    assert drill("periodic-report", "--since", str(now), "--every", "2")["runs"] == 1

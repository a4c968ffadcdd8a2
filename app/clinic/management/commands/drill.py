"""Failure drills count tasks: `drill enqueue` sends N drill tasks, `drill report` counts their runs.

    manage.py drill enqueue --queue reports --count 40 --seconds 1 --ids /tmp/drill.ids [--interval 0.1]
    manage.py drill report --ids /tmp/drill.ids [--wait 120]

The task records each run itself (clinic.models.TaskExecution). The report prints
JSON: enqueued, completed (ids with a finished run), duplicated (ids run to the end
more than once), lost (ids never finished), running (ids started and not finished
yet), interrupted (runs cut off before their end, by a killed worker or a lost
database, and so run again: the redelivery that at-least-once promises, not a
duplicate), runs (all runs), and exits 0 only when every id finished exactly once. With --wait it polls until that
holds or the time is up, so a drill waits for redeliveries without guessing.

`drill periodic --every 2` makes beat send the drill task every 2 s (`--off` stops it), and
`drill periodic-report --since T --every 2 [--after K]` reads its runs since T: a run less
than half a period after the one before was sent twice (two beats, or one beat twice);
--after K (a host's death) gives how long the next run took to come (a run within half a
period of K is the dead beat's last send, started late). The periodic drill
runs alone: every drill task run since T counts as one of its sends.

With --interval the enqueue is a steady load that outlives a broker failover, as a web
process must: a send that fails (after Celery's publish retries) is counted as refused,
told to stderr, and the load goes on. A refused send is not lost: its caller was told.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count, Q
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from clinic.models import TaskExecution
from clinic.tasks import drill_work
from config.routing import QUEUE_NAMES

PERIODIC_DRILL = "drill-periodic"


def count(ids: list[str]) -> dict:
    runs = {
        row["task_id"]: row
        for row in TaskExecution.objects.filter(task_id__in=ids)
        .values("task_id")
        .annotate(runs=Count("id"), finished=Count("id", filter=Q(finished_at__isnull=False)))
    }
    finished = [task_id for task_id in ids if runs.get(task_id, {}).get("finished", 0) >= 1]
    return {
        "enqueued": len(ids),
        "completed": len(finished),
        "duplicated": sum(1 for row in runs.values() if row["finished"] > 1),
        "lost": len(ids) - len(finished),
        "running": sum(1 for row in runs.values() if row["finished"] == 0),
        "interrupted": sum(row["runs"] - row["finished"] for row in runs.values() if row["finished"]),
        "runs": sum(row["runs"] for row in runs.values()),
    }


class Command(BaseCommand):
    help = "Enqueue drill tasks, or count what became of them (lost, duplicated)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        enqueue = sub.add_parser("enqueue", help="send drill tasks and write their ids to a file")
        enqueue.add_argument("--queue", required=True, help=f"one of {', '.join(QUEUE_NAMES)}")
        enqueue.add_argument("--count", type=int, default=40)
        enqueue.add_argument("--seconds", type=float, default=1.0, help="how long each task works")
        enqueue.add_argument("--ids", required=True, help="file the task ids are appended to")
        enqueue.add_argument(
            "--interval", type=float, default=0, help="seconds between sends; a failed send is counted, not fatal"
        )
        report = sub.add_parser("report", help="count the runs of the ids in a file (JSON)")
        report.add_argument("--ids", required=True)
        report.add_argument("--wait", type=float, default=0, help="seconds to wait for every id to finish once")
        periodic = sub.add_parser("periodic", help="beat sends the drill task every N seconds (or stops: --off)")
        periodic.add_argument("--every", type=int, default=2)
        periodic.add_argument("--queue", default="default")
        periodic.add_argument("--off", action="store_true")
        periodic_report = sub.add_parser("periodic-report", help="the periodic drill's runs since a time (JSON)")
        periodic_report.add_argument("--since", type=float, required=True, help="Unix time the drill started")
        periodic_report.add_argument("--every", type=int, default=2)
        periodic_report.add_argument("--after", type=float, help="Unix time of a failure: how long until the next run")

    def handle(self, *args, **options):
        action = options["action"].replace("-", "_")
        return getattr(self, action)(options)

    def periodic(self, options):
        if options["queue"] not in QUEUE_NAMES or options["every"] < 1:
            raise CommandError(f"--every must be positive and --queue one of {', '.join(QUEUE_NAMES)}")
        schedule, _ = IntervalSchedule.objects.get_or_create(every=options["every"], period=IntervalSchedule.SECONDS)
        # Saving the row tells beat (PeriodicTasks.changed), which picks it up at its next tick.
        PeriodicTask.objects.update_or_create(
            name=PERIODIC_DRILL,
            defaults={
                "task": drill_work.name,
                "interval": schedule,
                "kwargs": json.dumps({"seconds": 0}),
                "queue": options["queue"],
                "enabled": not options["off"],
            },
        )
        self.stdout.write(json.dumps({"periodic": PERIODIC_DRILL, "enabled": not options["off"], "at": time.time()}))

    def periodic_report(self, options):
        since = datetime.fromtimestamp(options["since"], UTC)
        starts = [
            run.timestamp()
            for run in TaskExecution.objects.filter(started_at__gte=since)
            .order_by("started_at")
            .values_list("started_at", flat=True)
        ]
        gaps = [later - earlier for earlier, later in pairwise(starts)]
        figures = {
            "runs": len(starts),
            "duplicated": sum(1 for gap in gaps if gap < options["every"] / 2),
            "largest_gap_s": round(max(gaps, default=0), 1),
        }
        if options["after"] is not None:
            # A run within half a period of the death is the dead beat's last send, run late.
            later = [start for start in starts if start > options["after"] + options["every"] / 2]
            figures["next_run_after_s"] = round(later[0] - options["after"], 1) if later else None
        self.stdout.write(json.dumps(figures))

    def enqueue(self, options):
        if options["queue"] not in QUEUE_NAMES:
            raise CommandError(f"unknown queue {options['queue']!r}; the queues are {', '.join(QUEUE_NAMES)}")
        if options["count"] < 1 or not 0 <= options["seconds"] <= 600:
            raise CommandError("--count must be positive and --seconds within 0-600")
        refused = 0
        with Path(options["ids"]).open("a") as ids:
            for _ in range(options["count"]):
                try:
                    result = drill_work.apply_async(kwargs={"seconds": options["seconds"]}, queue=options["queue"])
                except Exception as exc:
                    if not options["interval"]:
                        raise
                    refused += 1
                    self.stderr.write(f"send refused: {exc!r}")
                else:
                    ids.write(result.id + "\n")
                    ids.flush()  # an id is on file as soon as it is sent
                if options["interval"]:
                    time.sleep(options["interval"])
        sent = options["count"] - refused
        self.stdout.write(json.dumps({"enqueued": sent, "refused": refused, "queue": options["queue"]}))

    def report(self, options):
        path = Path(options["ids"])
        if not path.exists():
            raise CommandError(f"no ids file {path}")
        ids = [line.strip() for line in path.read_text().splitlines() if line.strip()]
        deadline = time.monotonic() + options["wait"]
        while True:
            figures = count(ids)
            done = figures["completed"] == figures["enqueued"] and figures["running"] == 0
            if done or time.monotonic() >= deadline:
                break
            time.sleep(1)
        self.stdout.write(json.dumps(figures))
        if figures["lost"] or figures["duplicated"]:
            raise SystemExit(1)

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

With --interval the enqueue is a steady load that outlives a broker failover, as a web
process must: a send that fails (after Celery's publish retries) is counted as refused,
told to stderr, and the load goes on. A refused send is not lost: its caller was told.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count, Q

from clinic.models import TaskExecution
from clinic.tasks import drill_work
from config.routing import QUEUE_NAMES


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

    def handle(self, *args, **options):
        if options["action"] == "enqueue":
            return self.enqueue(options)
        return self.report(options)

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

import json

from django.core.management.base import BaseCommand, CommandError

from ...probe import as_dicts, probe_queues
from ...queues import queue_names


class Command(BaseCommand):
    help = (
        "Send a health_check task to each queue and wait for a worker of that queue to answer. "
        "Exit status 1 if any queue has no live worker."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--queue", action="append", choices=queue_names(), help="probe only this queue (repeatable)"
        )
        parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for every answer")
        parser.add_argument("--json", action="store_true", help="print JSON instead of a table")

    def handle(self, *args, **options):
        if options["timeout"] <= 0:
            raise CommandError("--timeout must be positive")
        statuses = probe_queues(options["queue"], timeout=options["timeout"])
        if options["json"]:
            self.stdout.write(json.dumps(as_dicts(statuses), indent=2))
        else:
            for status in statuses:
                if status.ok:
                    self.stdout.write(f"{status.queue:<12} up    {status.seconds:.3f}s  {status.worker}")
                else:
                    self.stdout.write(f"{status.queue:<12} DOWN  {status.error}")
        down = [status.queue for status in statuses if not status.ok]
        if down:
            raise SystemExit(1)

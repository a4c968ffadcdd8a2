"""Is beat alive? Only if its schedule still reaches a worker.

A beat process can exist and send nothing (wedged on the database, or a
stopped scheduler). A beat schedule entry that sends django_celery_deploy.health_check
with kwargs {"source": "beat"} refreshes WorkerHeartbeat(source="beat") on the
worker that runs it; this command fails when
that row is older than --max-age, which is what a container healthcheck or a
monitoring system should look at.
"""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ...models import WorkerHeartbeat


def default_max_age() -> int:
    interval = getattr(settings, "BEAT_HEALTH_CHECK_SECONDS", 0) or 300
    # Two missed firings plus slack for a busy monitoring queue.
    return 2 * interval + 30


class Command(BaseCommand):
    help = "Exit 1 unless beat's heartbeat task reached a worker within --max-age seconds."

    def add_arguments(self, parser):
        parser.add_argument(
            "--max-age",
            type=int,
            default=None,
            help="seconds (default: twice the heartbeat interval plus 30)",
        )

    def handle(self, *args, **options):
        max_age = options["max_age"] if options["max_age"] is not None else default_max_age()
        if max_age <= 0:
            raise CommandError("--max-age must be a positive number of seconds")
        last = WorkerHeartbeat.objects.filter(source="beat").order_by("-seen_at").first()
        if last is None:
            self.stderr.write(
                "beat: no heartbeat yet (has beat sent its entry for django_celery_deploy.health_check with"
                ' kwargs {"source": "beat"}, and has a worker of its queue run it?)'
            )
            raise SystemExit(1)
        age = (timezone.now() - last.seen_at) / timedelta(seconds=1)
        if age > max_age:
            self.stderr.write(f"beat: last heartbeat {age:.0f} s ago (limit {max_age} s), via {last.hostname}")
            raise SystemExit(1)
        self.stdout.write(f"beat: last heartbeat {age:.0f} s ago via {last.hostname} ({last.count} in all)")

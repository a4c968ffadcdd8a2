from collections import Counter

from celery import current_app
from django.core.management.base import BaseCommand, CommandError
from django_celery_beat.models import PeriodicTask

from ...beat import seed_entry


class Command(BaseCommand):
    help = (
        "Seed the database with the default beat schedule (the Celery app's beat_schedule, from "
        "CELERY_BEAT_SCHEDULE in settings): add missing "
        "entries; on existing ones update what they run (task, arguments, options) but keep their timing "
        "(schedule, enabled) as the admin left it. Idempotent; runs after every migrate, and beat does the "
        "same when it starts."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset",
            nargs="*",
            metavar="NAME",
            help="put settings' timing back on these entries (every entry of settings without a NAME), "
            "undoing the admin's retiming and pausing",
        )

    def handle(self, *args, **options):
        schedule = current_app.conf.beat_schedule or {}
        reset = options["reset"]
        if reset:
            unknown = sorted(set(reset) - set(schedule))
            if unknown:
                raise CommandError(f"not in CELERY_BEAT_SCHEDULE: {', '.join(unknown)}")
        reset_names = set(schedule) if reset == [] else set(reset or ())
        outcomes = Counter(seed_entry(name, entry, reset=name in reset_names)[1] for name, entry in schedule.items())
        if options["verbosity"]:
            self.stdout.write(
                f"{len(schedule)} periodic tasks from settings: {outcomes['created']} added, "
                f"{outcomes['reset']} reset to settings' timing, {outcomes['updated']} updated, "
                f"{outcomes['kept']} unchanged."
            )
            # Never deleted here: the admin's own entries look the same as ones settings dropped.
            others = (
                PeriodicTask.objects.exclude(name__in=schedule)
                .exclude(name__startswith="celery.")  # beat's own, e.g. celery.backend_cleanup
                .values_list("name", flat=True)
            )
            if others:
                self.stdout.write(
                    f"Not in settings, left as they are (delete them in the admin if obsolete): {', '.join(others)}"
                )

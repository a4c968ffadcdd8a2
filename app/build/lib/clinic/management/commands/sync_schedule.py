from django.conf import settings
from django.core.management.base import BaseCommand
from django_celery_beat.schedulers import ModelEntry

from config.celery import app


class Command(BaseCommand):
    help = "Copy the default beat schedule (settings.CELERY_BEAT_SCHEDULE) into the database. Idempotent."

    def handle(self, *args, **options):
        for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
            ModelEntry.from_entry(name, app=app, **entry)
        if options["verbosity"]:
            self.stdout.write(f"{len(settings.CELERY_BEAT_SCHEDULE)} periodic tasks in the database.")

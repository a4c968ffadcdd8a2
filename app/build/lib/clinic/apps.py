from django.apps import AppConfig


class ClinicConfig(AppConfig):
    name = "clinic"
    verbose_name = "Clinic"

    def ready(self):
        from django.db.models.signals import post_migrate

        from . import checks  # noqa: F401  (registers the deploy checks)
        from .setup_db import ensure_broker_and_cache

        post_migrate.connect(ensure_broker_and_cache, sender=self, dispatch_uid="clinic-broker-schema")

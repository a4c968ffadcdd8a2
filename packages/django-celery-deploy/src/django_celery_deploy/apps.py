from django.apps import AppConfig


class DjangoCeleryDeployConfig(AppConfig):
    name = "django_celery_deploy"
    verbose_name = "Deployment health"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.models.signals import post_migrate

        from . import checks, heartbeat  # noqa: F401  (checks registers the system checks)
        from .setup_db import ensure_broker_and_cache

        post_migrate.connect(ensure_broker_and_cache, sender=self, dispatch_uid="django-celery-deploy-setup")
        # Each worker's main process records a heartbeat per queue on a timer; /healthz
        # reads those rows instead of sending a task through every queue. Django's
        # setup runs in every worker (celery's Django fixup), so this reaches them all.
        heartbeat.connect_signals()

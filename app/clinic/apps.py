from django.apps import AppConfig


class ClinicConfig(AppConfig):
    name = "clinic"
    verbose_name = "Clinic"

    def ready(self):
        from . import checks, signals  # noqa: F401  (registers the deploy checks and the signal handlers)

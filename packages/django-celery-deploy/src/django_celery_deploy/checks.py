"""System checks: a project wired so that the package would talk to the wrong Celery app."""

from django.core.checks import Error, Tags, register


@register(Tags.compatibility)
def project_celery_app_is_loaded(app_configs, **kwargs):
    from celery import _state, current_app

    # Without the project's app imported with Django, Celery's default app stands in: its
    # broker is amqp://localhost, so the probe, /healthz and migrate's setup would talk to
    # a broker nobody runs, and /healthz would watch a queue called "celery".
    # That fallback is created on first use as Celery("default"); default_app may also be
    # the project's own app (made the default for all threads), which is fine.
    app = current_app._get_current_object()
    if app is _state.default_app and app.main == "default":
        return [
            Error(
                "No Celery app of the project is loaded with Django: django_celery_deploy would use Celery's "
                "default app (broker amqp://localhost, queue 'celery').",
                hint="Import it in the settings package's __init__.py: "
                "from .celery import app as celery_app  (Celery's 'First steps with Django').",
                id="django_celery_deploy.E001",
            )
        ]
    return []

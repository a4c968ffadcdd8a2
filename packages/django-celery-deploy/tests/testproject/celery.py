import os

from celery import Celery
from django_celery_deploy.brokers import configure_transport
from django_celery_deploy.task_base import RequeueOnDatabaseLoss

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testproject.settings")
app = Celery("testproject", task_cls=RequeueOnDatabaseLoss)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.on_after_configure.connect(configure_transport, weak=False)
# As some projects do (and as the generated shop project ends up): the project's app is also
# Celery's default app. Check E001 must not take it for Celery's fallback ("default") app;
# conftest's migrate runs the checks.
app.set_default()

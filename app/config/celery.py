"""The Celery app: Django settings under the CELERY_ namespace, tasks autodiscovered."""

import os

from celery import Celery, signals
from django_celery_deploy.brokers import configure_transport
from django_celery_deploy.env import load_env_file
from django_celery_deploy.task_base import RequeueOnDatabaseLoss

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Now, not when Django's settings are first touched: `celery flower` reads its
# FLOWER_* options from the environment before it ever reads a setting.
load_env_file()

# Every task: one cut off by a lost database runs again (django_celery_deploy.task_base).
app = Celery("clinic", task_cls=RequeueOnDatabaseLoss)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.on_after_configure.connect(configure_transport, weak=False)


@signals.setup_logging.connect(weak=False)
def _setup_logging(**kwargs):
    # Connected: Celery then configures no logging of its own (one LOGGING for every process).
    from .logging import setup_logging

    setup_logging(**kwargs)

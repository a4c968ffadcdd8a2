"""The Celery app: Django settings under the CELERY_ namespace, tasks autodiscovered."""

import os

from celery import Celery

from .env import load_env_file
from .task_base import RequeueOnDatabaseLoss

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Now, not when Django's settings are first touched: `celery flower` reads its
# FLOWER_* options from the environment before it ever reads a setting.
load_env_file()

# Every task: one cut off by a lost database runs again (config/task_base.py).
app = Celery("clinic", task_cls=RequeueOnDatabaseLoss)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _configure_transport(**_kwargs):
    # kombu's SQLAlchemy transport passes broker_transport_options to
    # create_engine, so its polling interval can only be set on the class.
    from django.conf import settings

    if settings.BROKER.kind == "sqlalchemy":
        from kombu.transport import sqlalchemy

        sqlalchemy.Transport.polling_interval = settings.CELERY_BROKER_POLLING_INTERVAL


app.on_after_configure.connect(_configure_transport, weak=False)

# Each worker's main process records a heartbeat per queue on a timer; /healthz
# reads those rows instead of sending a task through every queue.
from clinic import heartbeat  # noqa: E402  (after the app: it imports nothing of Django's here)

heartbeat.connect_signals()

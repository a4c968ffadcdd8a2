import os

from celery import Celery
from django_celery_deploy.brokers import configure_transport
from django_celery_deploy.task_base import RequeueOnDatabaseLoss

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testproject.settings")
app = Celery("testproject", task_cls=RequeueOnDatabaseLoss)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.on_after_configure.connect(configure_transport, weak=False)

"""A project as small as the package allows: settings from the environment through the package."""

import os
from pathlib import Path

from django_celery_deploy import brokers
from django_celery_deploy.env import get_str, load_env_file
from django_celery_deploy.routing import QueueTable

load_env_file()
DATA_DIR = Path(os.environ["TEST_DATA_DIR"])
SECRET_KEY = "tests-only"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django_celery_beat",
    "django_celery_results",
    "django_celery_deploy",
]
ROOT_URLCONF = "django_celery_deploy.urls"
DATABASES = {"default": brokers.parse_database_url(get_str("DATABASE_URL", f"sqlite:///{DATA_DIR}/db.sqlite3"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "test_cache"}}

QUEUES = QueueTable.from_dict({"queues": ["orders", "mail"], "routes": {"django_celery_deploy.health_check": "mail"}})
CELERY_TASK_DEFAULT_QUEUE = QUEUES.default_queue
CELERY_TASK_QUEUES = QUEUES.task_queues
CELERY_TASK_ROUTES = QUEUES.task_routes
BROKER = brokers.choose_broker(get_str("CELERY_BROKER_URL"), get_str("REDIS_URL"), DATABASES["default"])
globals().update(brokers.celery_settings(BROKER, DATABASES["default"], visibility_timeout=60))
CELERY_BEAT_SCHEDULE = {
    "health-check": {"task": "django_celery_deploy.health_check", "schedule": 300.0, "kwargs": {"source": "beat"}}
}
HEALTHZ_TOKEN = "t" * 40
HEALTHZ_CACHE_SECONDS = 0
WORKER_HEARTBEAT_SECONDS = 1.0

"""A project that added the package but forgot to load its Celery app with Django."""

SECRET_KEY = "tests-only"
INSTALLED_APPS = ["django.contrib.contenttypes", "django_celery_beat", "django_celery_results", "django_celery_deploy"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
USE_TZ = True

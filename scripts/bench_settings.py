"""The app's settings, exactly, plus the benchmark's tasks (scripts/bench_app_tasks.py) for its
worker to load: scripts/bench.py runs the app's worker with DJANGO_SETTINGS_MODULE=bench_settings."""

from config.settings import *  # noqa: F403 - the app's real settings are what is measured

CELERY_IMPORTS = ["bench_app_tasks"]

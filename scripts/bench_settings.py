"""The app's settings, exactly, plus the benchmark's tasks (scripts/bench_app_tasks.py) for its
worker to load: scripts/bench.py runs the app's worker with DJANGO_SETTINGS_MODULE=bench_settings.

BENCH_REVERT (comma-separated Celery setting names, e.g. "task_track_started,result_extended")
puts those settings back to Celery's defaults, so that make bench can price each of the app's
settings one at a time against the same worker."""

import os

from celery.app.defaults import DEFAULTS

from config.settings import *  # noqa: F403 - the app's real settings are what is measured

CELERY_IMPORTS = ["bench_app_tasks"]

for _name in filter(None, os.environ.get("BENCH_REVERT", "").split(",")):
    if _name not in DEFAULTS:
        raise ValueError(f"BENCH_REVERT names {_name!r}, which is not a Celery setting")
    globals()["CELERY_" + _name.upper()] = DEFAULTS[_name]

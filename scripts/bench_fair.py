"""make bench's fair baseline: a bare Celery worker on the app's own broker and result backend
(its transport, options and the companion package's final-state backend), with
task_track_started as the app has it, and Celery's defaults for everything else (acks,
prefetch, time limits, result_extended, no Django task code). The app against this baseline
prices the app's own settings; the bare worker (bench_bare.py: Celery's backend for the broker,
no STARTED) prices the backend too. Run as `celery -A bench_fair worker -Q fair`."""

from __future__ import annotations

import os
import time

import django
from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench_settings")
django.setup()

from django.conf import settings  # noqa: E402 - after setup


def noop(sent_at: float | None = None) -> float:
    return time.time()


def make_app(set_as_current: bool = True) -> Celery:
    fair = Celery(
        "fair",
        broker=settings.CELERY_BROKER_URL,
        backend=settings.CELERY_RESULT_BACKEND,
        set_as_current=set_as_current,
    )
    for name in ("broker_transport", "broker_transport_options", "result_backend_transport_options"):
        value = getattr(settings, "CELERY_" + name.upper(), None)
        if value is not None:
            fair.conf[name] = value
    fair.conf.task_default_queue = "fair"
    fair.conf.task_track_started = True
    fair.conf.worker_hijack_root_logger = False
    fair.task(name="fair.noop")(noop)
    return fair


# Not set as current: make bench imports this module beside the app it also drives.
app = make_app(set_as_current=False)

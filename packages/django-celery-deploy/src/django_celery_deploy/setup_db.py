"""Run after every ``migrate``: install what the broker and the cache need.

Doing this at migrate time (once per deploy, run_once in Ansible) rather than
in each worker's first connection removes the race in which several workers
on a fresh database crash creating kombu's tables at the same moment.
Every step is idempotent.
"""

from __future__ import annotations

import logging

from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import connections, transaction

from .brokers import current_broker

logger = logging.getLogger(__name__)

# Serialises concurrent installs across hosts (any constant works; this is "pgmq").
PGMQ_LOCK_KEY = 0x70676D71


def install_pgmq(using: str = "default") -> bool:
    """Install the pgmq schema from the SQL shipped in the pgmq package (no server extension)."""
    from pgmq.install import get_embedded_install_sql

    connection = connections[using]
    with transaction.atomic(using=using), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [PGMQ_LOCK_KEY])
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'pgmq'")
        if cursor.fetchone():
            return False
        cursor.execute(get_embedded_install_sql())
    logger.info("Installed the pgmq schema for the database broker.")
    return True


def install_sqlalchemy_broker_tables() -> None:
    """Create kombu's tables and one row per queue before any worker starts."""
    from celery import current_app
    from kombu import Connection

    from .queues import queue_names

    conf = current_app.conf
    with Connection(conf.broker_url, transport_options=conf.broker_transport_options or {}) as conn:
        channel = conn.default_channel
        for queue in queue_names():
            channel._new_queue(queue)


def ensure_broker_and_cache(using: str = "default", **_kwargs) -> None:
    kind = current_broker().kind
    engine = settings.DATABASES[using]["ENGINE"]
    if kind == "pgmq" and engine.endswith("postgresql") and not _broker_url_is_explicit():
        install_pgmq(using)
    elif kind == "sqlalchemy" and engine.endswith("sqlite3") and not _broker_url_is_explicit():
        install_sqlalchemy_broker_tables()
    if settings.CACHES["default"]["BACKEND"].endswith("DatabaseCache"):
        call_command("createcachetable", database=using, verbosity=0)
    if apps.is_installed("django_celery_beat"):
        call_command("sync_schedule", verbosity=0)


def _broker_url_is_explicit() -> bool:
    # An explicit CELERY_BROKER_URL may point at another database: not ours to change.
    return current_broker().explicit

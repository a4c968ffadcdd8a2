"""Result backends for the app.

Redis: Celery's Redis result backend subscribes (pub/sub) to the result channel
of every task a non-worker process sends, in case it is waited on. The web
process sends many tasks and waits on none (the API polls the stored state), so
the set of subscriptions grows without bound and unread results pile up in the
connection until Redis drops it (client-output-buffer-limit pubsub). Subscribing
only when someone waits loses nothing: get() subscribes, then reads the stored
result.

Database: a retry publishes the next attempt *before* the worker stores RETRY
for the current one (celery.app.trace.handle_retry). With a short or jittered
countdown (retry_jitter can draw 0) another pool process runs the next attempt
to SUCCESS first, and the late RETRY then overwrites it: the task is done but
its result says RETRY forever, and every get() times out. Celery's key-value
backends refuse to overwrite SUCCESS; django-celery-results does not. This one
does, under a row lock, and also keeps any finished state from being replaced
by an unfinished one.

And a STARTED write that finds the database gone is skipped, not raised: Celery
stores STARTED (task_track_started) before the task body, outside the task's own
error handling, so the failure was an internal error and the task was acknowledged
as failed without ever running. Lost, in the PostgreSQL restart drill. The body's
own writes then meet the same database and hand the message back
(task_base.py); a final state is never skipped.
"""

import logging

from celery import states
from celery.backends.redis import RedisBackend, SentinelBackend
from django.db import InterfaceError, OperationalError, connections, router, transaction
from django_celery_results.backends.database import DatabaseBackend

from .task_base import database_connection_lost

logger = logging.getLogger(__name__)


class SubscribeOnWaitRedisBackend(RedisBackend):
    def on_task_call(self, producer, task_id):
        # Celery subscribes here for every task sent; get() subscribes on its own.
        return None


def keeps_stored_state(stored: str | None, new: str) -> bool:
    """True when a write of ``new`` must not replace the ``stored`` state."""
    if stored is None:
        return False
    if stored == states.SUCCESS:
        return True  # as Celery's key-value backends: a success is final
    return stored in states.READY_STATES and new not in states.READY_STATES


class FinalStateDatabaseBackend(DatabaseBackend):
    def _store_result(self, task_id, result, status, traceback=None, request=None, using=None):
        db = using or router.db_for_write(self.TaskModel)
        try:
            return self._store_unless_final(task_id, result, status, traceback, request, db)
        except (OperationalError, InterfaceError) as exc:
            if status != states.STARTED or not database_connection_lost(exc):
                raise
            logger.warning("task %s: STARTED not recorded, the database is unreachable (%s)", task_id, exc)
            connections[db].close()  # the task body connects afresh
            return result

    def _store_unless_final(self, task_id, result, status, traceback, request, db):
        # The row lock (PostgreSQL) or the IMMEDIATE transaction (SQLite, see
        # brokers.parse_database_url) makes the check and the write one step against a
        # concurrent writer of the same task id.
        with transaction.atomic(using=db):
            stored = (
                self.TaskModel._default_manager.using(db)
                .select_for_update()
                .filter(task_id=task_id)
                .values_list("status", flat=True)
                .first()
            )
            if keeps_stored_state(stored, status):
                return result
            return super()._store_result(task_id, result, status, traceback, request, db)


class SubscribeOnWaitSentinelBackend(SentinelBackend):
    """The same for Redis behind Sentinel (the master is looked up at each connect)."""

    def on_task_call(self, producer, task_id):
        return None

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
does, and also keeps any finished state from being replaced by an unfinished one,
in one conditional upsert per state (INSERT ... ON CONFLICT DO UPDATE ... WHERE,
PostgreSQL and SQLite alike). django-celery-results' get_or_create then save, under
a row lock for the rule, was seven statements for STARTED and five for the result:
on the PostgreSQL broker those round trips were most of what a task cost (make bench).

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
from django.db import InterfaceError, OperationalError, connections, router
from django.utils import timezone
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
            self._upsert_unless_final(task_id, result, status, traceback, request, db)
        except (OperationalError, InterfaceError) as exc:
            if status != states.STARTED or not database_connection_lost(exc):
                raise
            logger.warning("task %s: STARTED not recorded, the database is unreachable (%s)", task_id, exc)
            connections[db].close()  # the task body connects afresh
        return result

    def _row(self, task_id, result, status, traceback, request) -> dict:
        """The row django-celery-results' _store_result writes, from its own helpers."""
        content_type, content_encoding, encoded = self.encode_content(result)
        meta = {**self._get_meta_from_request(request), "children": self.current_task_children(request)}
        now = timezone.now()
        return {
            "task_id": task_id,
            "status": status,
            "result": encoded,
            "traceback": traceback,
            "meta": self.encode_content(meta)[2],
            "content_type": content_type,
            "content_encoding": content_encoding,
            **self._get_extended_properties(request, traceback),
            "date_created": now,
            "date_done": now,
            "date_started": now if status == states.STARTED else None,
        }

    def _upsert_unless_final(self, task_id, result, status, traceback, request, db) -> None:
        # Written by hand: Django's ORM has no conditional upsert (bulk_create's update_conflicts
        # takes no WHERE), and the condition is the point. One statement is atomic against a
        # concurrent writer of the same task id (PostgreSQL locks the row it updates).
        connection = connections[db]
        quote = connection.ops.quote_name
        fields = {f.name: f for f in self.TaskModel._meta.concrete_fields}
        row = self._row(task_id, result, status, traceback, request)
        columns = [fields[name] for name in row]
        table = quote(self.TaskModel._meta.db_table)
        updates = [
            # Created once; started when STARTED was stored (a later state keeps it).
            f"{quote(f.column)} = COALESCE(excluded.{quote(f.column)}, {table}.{quote(f.column)})"
            if f.name == "date_started"
            else f"{quote(f.column)} = excluded.{quote(f.column)}"
            for f in columns
            if f.name not in ("task_id", "date_created")
        ]
        # keeps_stored_state, in SQL: a success is final; a finished state is not replaced by an
        # unfinished one (the test suite checks the two against each other for every pair).
        kept = [states.SUCCESS] if status in states.READY_STATES else sorted(states.READY_STATES)
        status_column = f"{table}.{quote(fields['status'].column)}"
        # Identifiers from the model's metadata, quoted by the backend; every value is a parameter.
        sql = (
            f"INSERT INTO {table} ({', '.join(quote(f.column) for f in columns)}) "  # noqa: S608
            f"VALUES ({', '.join(['%s'] * len(columns))}) "
            f"ON CONFLICT ({quote(fields['task_id'].column)}) DO UPDATE SET {', '.join(updates)} "
            f"WHERE {status_column} NOT IN ({', '.join(['%s'] * len(kept))})"
        )
        values = [f.get_db_prep_save(row[f.name], connection) for f in columns]
        with connection.cursor() as cursor:
            cursor.execute(sql, [*values, *kept])


class SubscribeOnWaitSentinelBackend(SentinelBackend):
    """The same for Redis behind Sentinel (the master is looked up at each connect)."""

    def on_task_call(self, producer, task_id):
        return None

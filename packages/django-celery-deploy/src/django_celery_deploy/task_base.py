"""The base class of every task of the app: a task cut off by a lost database runs again.

A task whose database connection dies under it (PostgreSQL restarting, a failover)
raised OperationalError, and with acks_late Celery acknowledged it as failed: the
task never ran to its end and never ran again. Here such a task hands its message
back to the broker instead (Reject with requeue), so it runs again once the database
answers, exactly as if its worker had died. Only a connection that is gone counts:
an error on a connection that still answers (a lock timeout, a constraint) fails
the task as before, or a bad task would loop forever.
"""

from __future__ import annotations

import time

from celery import Task
from celery.exceptions import Reject

# Seconds a task waits before it hands its message back: with Redis as the broker the
# message comes back at once, and a database that is down would otherwise spin it.
REQUEUE_PAUSE_SECONDS = 1.0


def database_connection_lost(exc: BaseException) -> bool:
    from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections

    if not isinstance(exc, (OperationalError, InterfaceError)):
        return False
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.connection is None:
        return True  # the connect itself failed: the server is not there
    return not connection.is_usable()


class RequeueOnDatabaseLoss(Task):
    def __call__(self, *args, **kwargs):
        try:
            return super().__call__(*args, **kwargs)
        except Exception as exc:
            if not (self.acks_late and not self.request.is_eager and database_connection_lost(exc)):
                raise
            from django.db import connections

            # The next task on this process must not inherit the dead connection.
            connections.close_all()
            time.sleep(REQUEUE_PAUSE_SECONDS)
            raise Reject(exc, requeue=True) from exc

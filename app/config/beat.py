"""Beat's scheduler: django-celery-beat's DatabaseScheduler, run only by the holder of the beat lock.

Two beats send every periodic task twice. The preflight refuses two beat hosts and
the compose stack has one beat service, but `--scale beat=2`, a host added by hand
or a developer's `start_celery` pointed at a shared database would still double
every task. So before it sends anything, beat takes a lock that spans everything
sharing the database:

* PostgreSQL: a session-level advisory lock, on a connection of its own;
* SQLite (one host, by construction): an exclusive flock on a file beside it.

A second beat stands by and takes over when the holder's lock goes away (its
process ended, its connection closed): a hot spare, never a duplicate. If the
lock's connection is lost, beat exits, so that its supervisor restarts it and it
competes again; it never keeps sending without the lock.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from pathlib import Path

from django.conf import settings
from django_celery_beat.schedulers import DatabaseScheduler

from .brokers import pgmq_conn_string

logger = logging.getLogger(__name__)

BEAT_LOCK_KEY = 0x62656174  # "beat"


class BeatLockLost(RuntimeError):
    """Raised from tick(): beat stops with a failure status, and its supervisor restarts it."""


class PostgresBeatLock:
    def __init__(self, database: dict):
        self.conninfo = pgmq_conn_string(database)
        self.conn = None

    def try_acquire(self) -> bool:
        import psycopg

        if self.conn is None or self.conn.closed:
            self.conn = psycopg.connect(self.conninfo, autocommit=True, application_name="clinic-beat-lock")
        return bool(self.conn.execute("SELECT pg_try_advisory_lock(%s)", [BEAT_LOCK_KEY]).fetchone()[0])

    def held(self) -> bool:
        import psycopg

        try:
            return bool(
                self.conn.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND pid = pg_backend_pid() AND objid = %s",
                    [BEAT_LOCK_KEY & 0xFFFFFFFF],
                ).fetchone()[0]
            )
        except psycopg.Error:
            return False

    def release(self) -> None:
        if self.conn is not None and not self.conn.closed:
            self.conn.close()  # ends the session, and with it the lock


class FileBeatLock:
    def __init__(self, path: Path):
        self.path = path
        self.file = None

    def try_acquire(self) -> bool:
        if self.file is None:
            self.file = open(self.path, "a+")
        try:
            fcntl.flock(self.file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        self.file.seek(0)
        self.file.truncate()
        self.file.write(f"{os.getpid()}\n")
        self.file.flush()
        return True

    def held(self) -> bool:
        # A deleted or replaced lock file would let another beat lock a new one.
        try:
            return os.fstat(self.file.fileno()).st_ino == os.stat(self.path).st_ino
        except (AttributeError, OSError, ValueError):
            return False

    def release(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


def beat_lock(database: dict):
    if database["ENGINE"].endswith("postgresql"):
        return PostgresBeatLock(database)
    if database["ENGINE"].endswith("sqlite3"):
        return FileBeatLock(Path(str(database["NAME"]) + ".beat.lock"))
    raise RuntimeError(f"no beat lock for database engine {database['ENGINE']}")


# True while this process waits for the lock. Beat's SIGTERM handler asks the
# service for its scheduler, which would build a second one that waits again:
# that second one exits instead, and the signal ends the standby.
_standing_by = False


class SingleBeatScheduler(DatabaseScheduler):
    lock_retry_seconds = 2.0
    _lock = None

    def setup_schedule(self):
        # Only the scheduler that runs calls this (the banner's lazy one does not).
        global _standing_by
        if _standing_by:
            raise SystemExit(0)
        _standing_by = True
        try:
            lock = beat_lock(settings.DATABASES["default"])
            announced = False
            while not lock.try_acquire():
                if not announced:
                    logger.warning("beat: another beat holds the beat lock; standing by until it is released")
                    announced = True
                time.sleep(self.lock_retry_seconds)
        finally:
            _standing_by = False
        self._lock = lock
        logger.info("beat: holding the beat lock: this is the one beat")
        super().setup_schedule()

    def tick(self, *args, **kwargs):
        if self._lock is not None and not self._lock.held():
            logger.error("beat: the beat lock is lost; exiting so that beat restarts and competes for it again")
            raise BeatLockLost("the beat lock is lost")
        return super().tick(*args, **kwargs)

    def close(self):
        try:
            super().close()
        finally:
            if self._lock is not None:
                self._lock.release()
                self._lock = None

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

The default schedule (settings.CELERY_BEAT_SCHEDULE) only seeds the database:
see seed_entry. DatabaseScheduler's own start-up copy rewrites every entry's
schedule from settings, which would undo the admin's retiming at each beat start.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import threading
import time
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Model
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler, ModelEntry

from .brokers import pgmq_conn_string

logger = logging.getLogger(__name__)

BEAT_LOCK_KEY = 0x62656174  # "beat"
# How the lock's own session shows in pg_stat_activity (an operator looking for it).
LOCK_APPLICATION_NAME = "django-celery-beat-lock"

# An entry's timing, which the admin owns once the entry exists: its "Schedule"
# section and "Enabled". Everything else settings name (task, args, kwargs,
# execution options) follows settings at every sync.
ADMIN_OWNED_FIELDS = ("interval", "crontab", "solar", "clocked", "start_time", "one_off", "enabled")
TIMING_DEFAULTS = {"start_time": None, "one_off": False, "enabled": True}


def seed_entry(name: str, entry: dict, reset: bool = False) -> tuple[PeriodicTask, str]:
    """Put one entry of the default schedule into the database without undoing the admin's edits.

    Missing: created from settings. Present: what it runs is brought up to date,
    its timing stays as the admin left it, unless ``reset`` puts settings' timing
    back. Returns the row and "created", "reset", "updated" or "kept".
    """
    fields = ModelEntry._unpack_fields(**entry)
    with transaction.atomic():
        task, created = PeriodicTask.objects.select_for_update().get_or_create(
            name=name, defaults={**TIMING_DEFAULTS, **fields}
        )
        if created:
            return task, "created"
        if reset:
            wanted = {**TIMING_DEFAULTS, **fields}
        else:
            wanted = {key: value for key, value in fields.items() if key not in ADMIN_OWNED_FIELDS}
        changed = {
            key: value
            for key, value in wanted.items()
            if task.serializable_value(key) != (value.pk if isinstance(value, Model) else value)
        }
        if not changed:
            return task, "kept"
        for key, value in changed.items():
            setattr(task, key, value)
        task.save()
        return task, "reset" if reset else "updated"


class BeatLockLost(RuntimeError):
    """Raised from tick(): beat stops with a failure status, and its supervisor restarts it."""


# An advisory lock ends with its session, and PostgreSQL ends the session of a host that
# died (no FIN, no RST) only when TCP says the peer is gone: after 2 hours with the kernel's
# keepalive defaults, and a standby beat would wait that long. So the lock's session asks
# the server for keepalives of its own (idle 5 s, then 3 probes 2 s apart: ~11 s), and the
# client side keeps them too, to notice a dead database host as quickly. Unix sockets
# ignore both.
LOCK_KEEPALIVE = {"idle": 5, "interval": 2, "count": 3}


class PostgresBeatLock:
    def __init__(self, database: dict):
        self.conninfo = pgmq_conn_string(database)
        self.conn = None

    def connect_kwargs(self) -> dict:
        server = " ".join(f"-c tcp_keepalives_{key}={value}" for key, value in LOCK_KEEPALIVE.items())
        return {
            "autocommit": True,
            "application_name": LOCK_APPLICATION_NAME,
            "keepalives": 1,
            **{f"keepalives_{key}": value for key, value in LOCK_KEEPALIVE.items()},
            # After the database's own `options` (if any), so the lock's keepalives win.
            "options": " ".join(filter(None, [self.options, server])),
        }

    @property
    def options(self) -> str:
        from psycopg.conninfo import conninfo_to_dict

        return str(conninfo_to_dict(self.conninfo).get("options") or "")

    def try_acquire(self) -> bool:
        import psycopg

        if self.conn is None or self.conn.closed:
            self.conn = psycopg.connect(self.conninfo, **self.connect_kwargs())
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


# True while this process waits for the lock. Celery's SIGTERM handler (until ours replaces
# it) asks the service for its scheduler, which would build a second one that waits again:
# that second one exits instead, and the signal ends the standby.
_standing_by = False
# True once a signal ended the standby: a later TERM (`timeout` sends one to the child and
# one to its group) may reach the handler while the process exits, and the scheduler it
# builds must not wait for the lock again (it did, and the beat never exited).
_stopping = False

# Celery's TERM handler closes the scheduler (its broker connection, and so our lock) and
# raises SystemExit wherever the main thread is. Mid-publish, the socket code's cleanup then
# failed on the closed connection, its error replaced the SystemExit, beat logged a failed
# send and went on sending without its lock, beside the standby that had taken it. So the
# running scheduler has a handler of its own: while beat talks to the broker or the
# database (_busy), TERM is only noted, and beat stops where that work ends; elsewhere (it
# sleeps) it stops at once. Closing happens in the main thread, in Service.start's finally.
_stop_requested = False
_busy = False


def _request_stop(signum, frame):
    global _stop_requested
    _stop_requested = True
    if not _busy:
        raise SystemExit(0)


@contextlib.contextmanager
def _deferring_stop(stop_after: bool = True):
    """Hold TERM off a block of broker or database work; stop after it if TERM came."""
    global _busy
    outer = _busy
    _busy = True
    try:
        yield
    finally:
        _busy = outer
    if stop_after and _stop_requested and not outer:
        raise SystemExit(0)


class SingleBeatScheduler(DatabaseScheduler):
    lock_retry_seconds = 2.0
    _lock = None

    def setup_schedule(self):
        # Only the scheduler that runs calls this (the banner's lazy one does not).
        global _standing_by, _stopping
        if _standing_by or _stopping:
            raise SystemExit(0)
        _standing_by = True
        if threading.current_thread() is threading.main_thread():  # signal handlers live there only
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, _request_stop)
        try:
            lock = beat_lock(settings.DATABASES["default"])
            announced = False
            while True:
                with _deferring_stop():
                    if lock.try_acquire():
                        break
                if not announced:
                    logger.warning("beat: another beat holds the beat lock; standing by until it is released")
                    announced = True
                time.sleep(self.lock_retry_seconds)
        except BaseException:  # the signal handler's SystemExit (or Ctrl-C) ends the standby for good
            _stopping = True
            raise
        finally:
            _standing_by = False
        self._lock = lock
        logger.info("beat: holding the beat lock: this is the one beat")
        with _deferring_stop():
            super().setup_schedule()

    def update_from_dict(self, mapping):
        # Called at start with settings' schedule (and Celery's own entries): seed, never overwrite.
        entries = {}
        for name, entry in mapping.items():
            try:
                task, _ = seed_entry(name, entry)
            except Exception:
                logger.exception("beat: cannot add the periodic task %r from settings", name)
                continue
            if task.enabled:
                entries[name] = self.Entry(task, app=self.app)
        self.schedule.update(entries)

    def tick(self, *args, **kwargs):
        with _deferring_stop():
            if self._lock is not None and not self._lock.held():
                logger.error("beat: the beat lock is lost; exiting so that beat restarts and competes for it again")
                raise BeatLockLost("the beat lock is lost")
            return super().tick(*args, **kwargs)

    def sync(self):
        # Between ticks, beat saves the schedule's run counts: that too finishes first.
        with _deferring_stop():
            super().sync()

    def close(self):
        # Beat is stopping already: a second TERM must not cut the release of the lock short.
        with _deferring_stop(stop_after=False):
            try:
                super().close()
            finally:
                if self._lock is not None:
                    self._lock.release()
                    self._lock = None

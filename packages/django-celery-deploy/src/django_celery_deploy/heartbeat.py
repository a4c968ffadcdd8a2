"""Worker liveness without a broker round trip: each worker's main process beats on a timer.

Writer: on ``worker_ready`` a thread starts in the worker's main process (not in
the pool, so a pool busy with long tasks does not silence it). Every
WORKER_HEARTBEAT_SECONDS it upserts one WorkerHeartbeat(source="worker") row per
queue the worker consumes: pid, pool slots, tasks running, and whether its
consumer holds a broker connection. On shutdown (TERM, or any clean stop) the
thread writes ``stopped_at`` at once, so a stopped worker is down immediately,
not after its heartbeat goes stale.

Reader: ``queue_liveness`` turns those rows into live / busy / down per queue
with one query; /healthz serves that.

Why the database, not the Django cache: the database is the one store every
process of every broker setup already shares (Redis, pgmq on PostgreSQL,
SQLAlchemy on SQLite), and /healthz needs it anyway. With Redis the cache *is*
the broker's server, so reading heartbeats from it would be the broker round trip
/healthz must not make per request; and a database row keeps its timestamp from
the database's own clock (``Now()``), so workers on other hosts need no clock
agreement with the web host. The cost is one UPDATE per worker per interval.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import asdict, dataclass, field
from datetime import timedelta

from celery import signals

logger = logging.getLogger(__name__)

SOURCE = "worker"
# A worker is down after this many missed beats (one late beat is not an outage).
STALE_AFTER_BEATS = 3
# Rows older than this are not read (hostnames of replaced containers, SIGKILLed workers).
FORGET_AFTER = timedelta(days=1)

LIVE, BUSY, DOWN = "live", "busy", "down"
# Seconds between beats unless settings.WORKER_HEARTBEAT_SECONDS says otherwise.
DEFAULT_INTERVAL = 10.0


def interval() -> float:
    from django.conf import settings

    return float(getattr(settings, "WORKER_HEARTBEAT_SECONDS", DEFAULT_INTERVAL))


def stale_after() -> float:
    return STALE_AFTER_BEATS * interval()


# --- Writer: the worker's main process ---------------------------------------------------


class Heartbeat:
    def __init__(self, consumer, every: float):
        self.consumer = consumer
        self.hostname = consumer.hostname
        self.queues = sorted(consumer.app.amqp.queues.consume_from)
        self.every = every
        self.stopping = threading.Event()
        self.failing = False
        self.thread = threading.Thread(target=self._run, name="django-celery-deploy-heartbeat", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        """Signal-safe: only sets an event; the thread writes the last beat itself."""
        self.stopping.set()

    def join(self, timeout: float) -> None:
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join(timeout)

    def sample(self) -> dict:
        from celery.worker import state

        controller = self.consumer.controller
        # num_processes follows --autoscale; concurrency is the configured size.
        slots = getattr(getattr(controller, "pool", None), "num_processes", None) or controller.concurrency
        return {
            "pid": os.getpid(),
            "concurrency": slots,
            "active": len(state.active_requests),
            # False while the consumer reconnects after losing the broker.
            "connected": self.consumer.connection is not None,
        }

    def beat(self, stopped: bool = False) -> None:
        from django.db import DatabaseError, IntegrityError, connection
        from django.db.models import F
        from django.db.models.functions import Now

        from .models import WorkerHeartbeat

        try:
            values = {**self.sample(), "stopped_at": Now() if stopped else None}
            mine = WorkerHeartbeat.objects.filter(source=SOURCE, hostname=self.hostname, queue__in=self.queues)
            if mine.update(seen_at=Now(), count=F("count") + 1, **values) < len(self.queues):
                missing = set(self.queues) - set(mine.values_list("queue", flat=True))
                for queue in sorted(missing):
                    try:
                        WorkerHeartbeat.objects.create(
                            queue=queue, hostname=self.hostname, source=SOURCE, seen_at=Now(), count=1, **values
                        )
                    except IntegrityError:  # another process with this hostname: the next beat updates it
                        pass
            if self.failing:
                logger.warning("heartbeat of %s written again", self.hostname)
            self.failing = False
        except Exception as exc:  # the thread must outlive any one failed beat
            if not self.failing:  # once per outage, not once per beat
                logger.warning(
                    "heartbeat of %s not written (%s); /healthz will call it down",
                    self.hostname,
                    exc,
                    exc_info=not isinstance(exc, DatabaseError),
                )
            self.failing = True
        finally:
            # A connection per beat, not one held open: the pool forks new children from
            # this process, and a child must not inherit a live database connection.
            connection.close()

    def _run(self) -> None:
        while True:
            self.beat()
            if self.stopping.wait(self.every):
                break
        self.beat(stopped=True)


_current: Heartbeat | None = None


def _start(sender=None, **_kwargs) -> None:
    """worker_ready: sent once, in the main process, when the consumer is connected."""
    global _current
    if _current is None:
        _current = Heartbeat(sender, interval())
        _current.start()


def _stopping(**_kwargs) -> None:
    """worker_shutting_down: runs inside the TERM/INT handler, so it only sets an event."""
    if _current is not None:
        _current.stop()


def _stopped(**_kwargs) -> None:
    """worker_shutdown: the pool has stopped; wait for the last beat to be written."""
    if _current is not None:
        _current.join(timeout=10)


def connect_signals() -> None:
    signals.worker_ready.connect(_start, weak=False, dispatch_uid="django-celery-deploy-heartbeat-start")
    signals.worker_shutting_down.connect(_stopping, weak=False, dispatch_uid="django-celery-deploy-heartbeat-stopping")
    signals.worker_shutdown.connect(_stopped, weak=False, dispatch_uid="django-celery-deploy-heartbeat-stopped")


# --- Reader: /healthz ---------------------------------------------------------------------


@dataclass
class WorkerStatus:
    hostname: str
    pid: int | None
    state: str
    seconds_since_beat: float
    active: int | None
    concurrency: int | None
    connected: bool | None
    error: str | None = None


@dataclass
class QueueLiveness:
    queue: str
    state: str
    live: int = 0
    busy: int = 0
    seconds_since_beat: float | None = None
    error: str | None = None
    workers: list[WorkerStatus] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.state != DOWN

    def summary(self) -> dict:
        """What anyone may see: no hostnames or pids."""
        return {
            "ok": self.ok,
            "state": self.state,
            "live": self.live,
            "busy": self.busy,
            "seconds_since_beat": self.seconds_since_beat,
            "error": self.error,
        }

    def detail(self) -> dict:
        return {**self.summary(), "workers": [asdict(worker) for worker in self.workers]}


def _worker_status(row: dict, limit: float) -> WorkerStatus:
    age = round(max((row["db_now"] - row["seen_at"]).total_seconds(), 0.0), 1)
    status = WorkerStatus(row["hostname"], row["pid"], LIVE, age, row["active"], row["concurrency"], row["connected"])
    if row["stopped_at"] is not None:
        stopped = max((row["db_now"] - row["stopped_at"]).total_seconds(), 0.0)
        status.state, status.error = DOWN, f"{row['hostname']} stopped {stopped:.0f} s ago"
    elif age > limit:
        status.state, status.error = DOWN, f"no heartbeat from {row['hostname']} for {age:.0f} s (limit {limit:g} s)"
    elif not row["connected"]:
        status.state, status.error = DOWN, f"{row['hostname']} is not connected to the broker"
    elif row["concurrency"] and (row["active"] or 0) >= row["concurrency"]:
        status.state = BUSY
    return status


def queue_liveness(queues) -> list[QueueLiveness]:
    """Live, busy or down for each queue, from the workers' heartbeat rows: one query.

    Raises DatabaseError when the database cannot be read.
    """
    from django.db.models.functions import Now
    from django.utils import timezone

    from .models import WorkerHeartbeat

    limit = stale_after()
    rows = (
        WorkerHeartbeat.objects.filter(
            source=SOURCE, queue__in=list(queues), seen_at__gte=timezone.now() - FORGET_AFTER
        )
        .annotate(db_now=Now())
        .order_by("-seen_at")
        .values("queue", "hostname", "pid", "seen_at", "active", "concurrency", "connected", "stopped_at", "db_now")
    )
    by_queue: dict[str, list[WorkerStatus]] = {queue: [] for queue in queues}
    for row in rows:
        by_queue[row["queue"]].append(_worker_status(row, limit))
    result = []
    for queue, workers in by_queue.items():
        live = sum(worker.state == LIVE for worker in workers)
        busy = sum(worker.state == BUSY for worker in workers)
        beating = [worker.seconds_since_beat for worker in workers if worker.state != DOWN]
        status = QueueLiveness(
            queue,
            LIVE if live else BUSY if busy else DOWN,
            live,
            busy,
            min(beating) if beating else None,
            workers=workers,
        )
        if status.state == DOWN:
            reasons = [worker.error for worker in workers[:3]]
            status.error = "; ".join(reasons) if reasons else "no worker has sent a heartbeat for this queue"
        result.append(status)
    return result

"""Per-queue liveness by a real round trip: a health_check task sent to each
queue must come back from a worker of that queue within the timeout.

This works on every broker, including the database brokers where
``celery inspect ping`` gets no answer (no fanout, or reply-queue names that
pgmq cannot hold).

It costs a task per queue and up to ``timeout`` seconds, and a busy queue fails
it, so it is for operators and CI only: ``manage.py probe_queues`` and
``/healthz?deep=1`` behind the API token. Anonymous /healthz reads the workers'
heartbeats instead (heartbeat.py).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from .queues import queue_names


@dataclass
class QueueStatus:
    queue: str
    ok: bool
    seconds: float | None = None
    worker: str | None = None
    error: str | None = None


def probe_queues(queues: list[str] | None = None, timeout: float = 5.0, poll: float = 0.05) -> list[QueueStatus]:
    from .tasks import health_check

    known = queue_names()
    queues = list(queues or known)
    unknown = [queue for queue in queues if queue not in known]
    if unknown:
        raise ValueError(f"unknown queue(s) {unknown}; the queues are {list(known)}")

    started = time.monotonic()
    # expires: a probe that waited past its deadline is dropped by the worker
    # instead of piling up while a queue has no consumer.
    pending = {
        queue: health_check.apply_async(kwargs={"source": "probe"}, queue=queue, routing_key=queue, expires=timeout)
        for queue in queues
    }
    statuses: dict[str, QueueStatus] = {}
    deadline = started + timeout
    while pending:
        for queue, result in list(pending.items()):
            if not result.ready():
                continue
            del pending[queue]
            elapsed = round(time.monotonic() - started, 3)
            if result.successful():
                answer = result.result or {}
                statuses[queue] = QueueStatus(
                    queue,
                    ok=answer.get("queue") == queue,
                    seconds=elapsed,
                    worker=answer.get("hostname"),
                    error=None if answer.get("queue") == queue else f"answered from queue {answer.get('queue')!r}",
                )
            else:
                statuses[queue] = QueueStatus(queue, ok=False, seconds=elapsed, error=f"probe {result.state}")
            result.forget()
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(poll)
    for queue, result in pending.items():
        statuses[queue] = QueueStatus(queue, ok=False, error=f"no worker answered within {timeout:g} s")
        result.forget()
    return [statuses[queue] for queue in queues]


def as_dicts(statuses: list[QueueStatus]) -> list[dict]:
    return [asdict(status) for status in statuses]

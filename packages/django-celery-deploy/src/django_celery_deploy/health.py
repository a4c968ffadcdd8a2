"""/healthz: live, busy or down per queue, cheap enough to leave open to anyone.

Anonymous /healthz is open to anyone, so its cost must not depend on the callers:
it reads the workers' heartbeat rows (one query, no broker round trip, no task)
and each web process reuses that answer for HEALTHZ_CACHE_SECONDS (default 1).
The round trip through every queue (?deep=1) is for operators, behind the bearer
token in settings.HEALTHZ_TOKEN; without a token configured, deep checks are refused.

In the project's urls.py::

    path("healthz", django_celery_deploy.health.healthz, name="healthz")
"""

from __future__ import annotations

import hmac
import json
import threading
import time

from celery import current_app
from django.conf import settings
from django.db import DatabaseError
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from . import heartbeat, probe
from .brokers import current_broker
from .queues import queue_names

_healthz_lock = threading.Lock()
_healthz_cached: tuple[float, int, bytes] | None = None  # (fresh until, status code, JSON)


def _token_ok(request) -> bool:
    token = getattr(settings, "HEALTHZ_TOKEN", "")
    if not token:
        return False
    # RFC 9110 section 11.1: the scheme is case-insensitive; the token is compared exactly.
    scheme, _, supplied = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(supplied.lstrip(" ").encode(), token.encode())


def _heartbeat_health(detail: bool) -> dict:
    """Database, and live/busy/down per queue from the workers' heartbeats."""
    body = {"status": "ok", "database": {"ok": True}, "broker": {"kind": current_broker().kind}}
    body["heartbeat"] = {"every_seconds": heartbeat.interval(), "down_after_seconds": heartbeat.stale_after()}
    try:
        statuses = heartbeat.queue_liveness(queue_names())
    except DatabaseError as exc:
        body["database"] = {"ok": False, "error": str(exc)}
        body["broker"].update(ok=False, error="unknown: the workers report through the database")
        error = "the database, where workers record their heartbeats, cannot be read"
        body["queues"] = {queue: {"ok": False, "state": heartbeat.DOWN, "error": error} for queue in queue_names()}
        body["down"] = list(queue_names())
        body["status"] = "down"
        return body
    # The workers' consumers hold the broker connections: if none of the workers
    # that beat holds one, the broker is unreachable from where it matters.
    connected = any(w.connected and w.state != heartbeat.DOWN for s in statuses for w in s.workers)
    body["broker"]["ok"] = connected
    if not connected:
        body["broker"]["error"] = "no live worker reports a broker connection"
    body["queues"] = {s.queue: s.detail() if detail else s.summary() for s in statuses}
    body["down"] = [s.queue for s in statuses if not s.ok]
    if body["down"] or not connected:
        body["status"] = "down"
    return body


def _deep_health() -> dict:
    """The heartbeat answer with worker details, plus this process's broker connection
    and a probe task's round trip through every queue (up to HEALTHZ_PROBE_TIMEOUT)."""
    body = _heartbeat_health(detail=True)
    broker = {"kind": current_broker().kind, "ok": True, "workers_connected": body["broker"]["ok"]}
    try:
        with current_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # noqa: BLE001 - any failure means "broker down"
        broker.update(ok=False, error=f"{type(exc).__name__}: {exc}")
    body["broker"] = broker
    if body["database"]["ok"] and broker["ok"]:
        probes = {s.queue: s for s in probe.probe_queues(timeout=getattr(settings, "HEALTHZ_PROBE_TIMEOUT", 5.0))}
    else:
        probes = {queue: probe.QueueStatus(queue, ok=False, error="not probed") for queue in queue_names()}
    for queue, status in body["queues"].items():
        result = probes[queue]
        status["probe"] = {"ok": result.ok, "seconds": result.seconds, "worker": result.worker, "error": result.error}
        if not result.ok:
            status["ok"] = False
            status["error"] = status["error"] or f"probe: {result.error}"
    body["down"] = [queue for queue, status in body["queues"].items() if not status["ok"]]
    healthy = body["database"]["ok"] and broker["ok"] and not body["down"]
    body["status"] = "ok" if healthy else "down"
    return body


def _cached_heartbeat_health() -> tuple[int, bytes]:
    global _healthz_cached
    # One computation at a time per process; the others wait for it and share it.
    with _healthz_lock:
        now = time.monotonic()
        if _healthz_cached is None or now >= _healthz_cached[0]:
            body = _heartbeat_health(detail=False)
            code = 200 if body["status"] == "ok" else 503
            _healthz_cached = (now + getattr(settings, "HEALTHZ_CACHE_SECONDS", 1.0), code, json.dumps(body).encode())
        return _healthz_cached[1], _healthz_cached[2]


@require_GET
def healthz(request):
    """200 when the database answers and every queue has a live or busy worker, else 503.

    Anonymous: from the workers' heartbeats (see heartbeat.py), at most
    HEALTHZ_CACHE_SECONDS old. ?deep=1 with the HEALTHZ_TOKEN: worker details, and a
    probe task through every queue; 401 without the token.
    """
    if request.GET.get("deep", "").lower() in {"1", "true", "yes"}:
        if not getattr(settings, "HEALTHZ_TOKEN", ""):
            error = "deep checks are off: settings.HEALTHZ_TOKEN is empty on this server"
            return JsonResponse({"error": error}, status=403)
        if not _token_ok(request):
            error = "missing or wrong bearer token (Authorization: Bearer <settings.HEALTHZ_TOKEN>)"
            return JsonResponse({"error": error}, status=401)
        body = _deep_health()
        return JsonResponse(body, status=200 if body["status"] == "ok" else 503)
    code, content = _cached_heartbeat_health()
    return HttpResponse(content, status=code, content_type="application/json")

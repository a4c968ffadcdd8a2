"""The JSON API. Every bad input gets a 400 with a message, never a 500."""

from __future__ import annotations

import functools
import hmac
import json
import re
import uuid
from datetime import date

from celery.result import AsyncResult
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from config.celery import app as celery_app
from config.routing import QUEUE_NAMES

from . import probe, tasks, workflows
from .models import Doctor, MedicalReport, TaskRecord


class BadRequest(Exception):
    pass


def api(methods):
    """JSON in, JSON out, bearer-token auth, BadRequest -> 400."""

    def decorate(view):
        @csrf_exempt  # token auth, no cookies: CSRF does not apply
        @require_http_methods(methods)
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            if settings.API_TOKEN:
                supplied = request.headers.get("Authorization", "")
                expected = f"Bearer {settings.API_TOKEN}"
                if not hmac.compare_digest(supplied.encode(), expected.encode()):
                    return JsonResponse({"error": "missing or wrong API token"}, status=401)
            try:
                return view(request, *args, **kwargs)
            except BadRequest as exc:
                return JsonResponse({"error": str(exc)}, status=400)

        return wrapper

    return decorate


def read_json(request) -> dict:
    if not request.body:
        raise BadRequest("request body must be a JSON object")
    try:
        data = json.loads(request.body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BadRequest("request body must be a JSON object")
    return data


def require_text(data: dict, field: str, max_length: int, required: bool = True) -> str:
    value = data.get(field, "")
    if not isinstance(value, str):
        raise BadRequest(f"{field} must be a string")
    value = value.strip()
    if required and not value:
        raise BadRequest(f"{field} is required")
    if len(value) > max_length:
        raise BadRequest(f"{field} is longer than {max_length} characters")
    return value


def require_int(value, field: str, minimum: int = 1, maximum: int = 2**31 - 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and re.fullmatch(r"\d+", value):
            value = int(value)
        else:
            raise BadRequest(f"{field} must be an integer, got {value!r}")
    if not minimum <= value <= maximum:
        raise BadRequest(f"{field} must be between {minimum} and {maximum}, got {value}")
    return value


def parse_date(value, field: str) -> str:
    if not isinstance(value, str):
        raise BadRequest(f"{field} must be a date as YYYY-MM-DD")
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise BadRequest(f"{field}={value!r} is not a valid date (YYYY-MM-DD)") from None


def record(task_id: str, name: str) -> None:
    TaskRecord.objects.create(task_id=task_id, name=name)


def accepted(task_id: str, name: str, **extra) -> JsonResponse:
    return JsonResponse({"task_id": task_id, "task": name, "status_url": f"/api/tasks/{task_id}", **extra}, status=202)


# --- Doctors ----------------------------------------------------------------------------


@api(["POST"])
def create_doctor(request):
    data = read_json(request)
    name = require_text(data, "name", 200)
    email = require_text(data, "email", 254)
    specialty = require_text(data, "specialty", 100, required=False)
    try:
        validate_email(email)
    except ValidationError:
        raise BadRequest(f"email {email!r} is not a valid address") from None
    task_id = str(uuid.uuid4())
    try:
        with transaction.atomic():
            doctor = Doctor.objects.create(name=name, email=email.lower(), specialty=specialty)
            record(task_id, "clinic.tasks.send_welcome_email")
            # Queued once, and only if the doctor really exists: a worker that
            # picked the task up before COMMIT would not find the row.
            transaction.on_commit(lambda: tasks.send_welcome_email.apply_async((doctor.pk,), task_id=task_id))
    except IntegrityError:
        raise BadRequest(f"a doctor with e-mail {email!r} already exists") from None
    return JsonResponse(
        {"id": doctor.pk, "name": doctor.name, "email": doctor.email, "welcome_email_task_id": task_id}, status=201
    )


# --- Reports ----------------------------------------------------------------------------


@api(["POST"])
def generate_report(request):
    data = read_json(request)
    kind = data.get("kind", "daily")
    jobs = {"daily": tasks.generate_daily_reports, "weekly": tasks.generate_weekly_report}
    if kind not in jobs:
        raise BadRequest(f"kind must be one of {sorted(jobs)}, got {kind!r}")
    day = parse_date(data["date"], "date") if data.get("date") is not None else None
    task = jobs[kind]
    task_id = str(uuid.uuid4())
    record(task_id, task.name)
    task.apply_async((day,), task_id=task_id)
    return accepted(task_id, task.name)


@api(["POST"])
def process_report(request, report_id):
    report_id = require_int(report_id, "report id")
    if not MedicalReport.objects.filter(pk=report_id).exists():
        raise BadRequest(f"medical report {report_id} does not exist")
    task_id = str(uuid.uuid4())
    record(task_id, "clinic.tasks.notify_report_processed")
    result = workflows.report_pipeline(report_id, task_id=task_id)
    record(result.parent.id, tasks.process_medical_report.name)
    return accepted(result.id, "report pipeline", process_task_id=result.parent.id)


@api(["POST"])
def doctor_statistics(request):
    data = read_json(request)
    day = parse_date(data.get("date"), "date")
    task_id = str(uuid.uuid4())
    record(task_id, tasks.summarize_doctor_statistics.name)
    workflows.doctor_statistics_for_day(day, task_id=task_id)
    return accepted(task_id, "doctor statistics chord")


# --- Claims -----------------------------------------------------------------------------

MAX_BULK_CLAIMS = 1000


@api(["POST"])
def bulk_claims(request):
    data = read_json(request)
    ids = data.get("claim_ids")
    if not isinstance(ids, list) or not ids:
        raise BadRequest("claim_ids must be a non-empty list of claim ids")
    if len(ids) > MAX_BULK_CLAIMS:
        raise BadRequest(f"at most {MAX_BULK_CLAIMS} claims per request, got {len(ids)}")
    ids = [require_int(value, "claim_ids[]") for value in ids]
    task_id = str(uuid.uuid4())
    record(task_id, tasks.process_bulk_claims.name)
    tasks.process_bulk_claims.apply_async((ids,), task_id=task_id)
    return accepted(task_id, tasks.process_bulk_claims.name, claims=len(ids))


# --- Tasks --------------------------------------------------------------------------------


@api(["POST"])
def start_long_running(request):
    data = read_json(request)
    total = require_int(data.get("total", 10), "total", 1, 1000)
    step = data.get("step_seconds", 1.0)
    if isinstance(step, bool) or not isinstance(step, (int, float)) or not 0 <= step <= 10:
        raise BadRequest("step_seconds must be a number between 0 and 10")
    task_id = str(uuid.uuid4())
    record(task_id, tasks.long_running_task.name)
    tasks.long_running_task.apply_async(kwargs={"total": total, "step_seconds": float(step)}, task_id=task_id)
    return accepted(task_id, tasks.long_running_task.name, progress_url=f"/api/tasks/{task_id}/progress")


@api(["POST"])
def ping_queue(request, queue):
    if queue not in QUEUE_NAMES:
        raise BadRequest(f"unknown queue {queue!r}; the queues are {list(QUEUE_NAMES)}")
    task_id = str(uuid.uuid4())
    record(task_id, tasks.health_check.name)
    tasks.health_check.apply_async(kwargs={"source": "api"}, queue=queue, routing_key=queue, task_id=task_id)
    return accepted(task_id, tasks.health_check.name, queue=queue)


def known_result(task_id: str) -> tuple[AsyncResult, TaskRecord]:
    try:
        uuid.UUID(task_id)
    except ValueError:
        raise BadRequest(f"task id {task_id!r} is malformed (expected a UUID)") from None
    record_ = TaskRecord.objects.filter(task_id=task_id).first()
    if record_ is None:
        raise BadRequest(f"unknown task id {task_id}")
    return AsyncResult(task_id, app=celery_app), record_


def _jsonable(value):
    try:
        json.dumps(value)
        return value
    except TypeError:
        return repr(value)


@api(["GET"])
def task_status(request, task_id):
    result, record_ = known_result(task_id)
    state = result.state
    body = {"task_id": task_id, "task": record_.name, "state": state, "ready": result.ready()}
    if state == "SUCCESS":
        body["result"] = _jsonable(result.result)
    elif state in {"FAILURE", "RETRY", "REVOKED"}:
        body["error"] = f"{type(result.result).__name__}: {result.result}"
    elif state == "PROGRESS":
        body["progress"] = _jsonable(result.info)
    worker = getattr(result, "worker", None)
    if worker:
        body["worker"] = worker
    return JsonResponse(body)


@api(["GET"])
def task_progress(request, task_id):
    result, _ = known_result(task_id)
    state = result.state
    info = result.info if isinstance(result.info, dict) else {}
    if state == "SUCCESS":
        total = info.get("total", 1)
        current, percent = total, 100.0
    else:
        total = info.get("total")
        current = info.get("current", 0)
        percent = info.get("percent", 0.0)
    return JsonResponse({"task_id": task_id, "state": state, "current": current, "total": total, "percent": percent})


# --- Health ---------------------------------------------------------------------------------


@require_GET
def healthz(request):
    """Database, broker, and per-queue liveness by a probe-task round trip."""
    body = {"database": {"ok": True}, "broker": {"ok": True, "kind": settings.BROKER.kind}}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        body["database"] = {"ok": False, "error": str(exc)}
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # noqa: BLE001 - any failure means "broker down"
        body["broker"] = {"ok": False, "kind": settings.BROKER.kind, "error": f"{type(exc).__name__}: {exc}"}
    if body["database"]["ok"] and body["broker"]["ok"]:
        statuses = probe.probe_queues(timeout=settings.HEALTHZ_PROBE_TIMEOUT)
        body["queues"] = {s.queue: {"ok": s.ok, "seconds": s.seconds, "error": s.error} for s in statuses}
    else:
        body["queues"] = {queue: {"ok": False, "error": "not probed"} for queue in QUEUE_NAMES}
    healthy = body["database"]["ok"] and body["broker"]["ok"] and all(q["ok"] for q in body["queues"].values())
    body["status"] = "ok" if healthy else "down"
    return JsonResponse(body, status=200 if healthy else 503)

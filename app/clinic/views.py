"""The JSON API. Every bad input gets a 400 with a message, never a 500."""

from __future__ import annotations

import functools
import hmac
import json
import math
import re
import uuid
from collections import deque
from datetime import date

from celery.result import AsyncResult
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django_celery_deploy.tasks import health_check

from config.celery import app as celery_app
from config.routing import QUEUE_NAMES

from . import tasks, workflows
from .models import Doctor, MedicalReport, TaskRecord


class BadRequest(Exception):
    pass


def api(methods):
    """JSON in, JSON out, bearer-token auth, BadRequest -> 400."""

    def decorate(view):
        @csrf_exempt  # token auth, no cookies: CSRF does not apply
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method not in methods:
                response = JsonResponse({"error": f"method {request.method} not allowed; use {', '.join(methods)}"})
                response.status_code = 405
                response["Allow"] = ", ".join(methods)
                return response
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


# --- Input -----------------------------------------------------------------------------
# One parser for every body (read_json), one check for every string (check_text),
# bounded numbers and strict dates: what a view gets can be stored, queued and
# computed with, so bad input ends here as a 400 instead of a 500 or a failed task.

MAX_DEPTH = 32  # no endpoint takes more than a list of ids
MAX_INT = 2**63 - 1  # the widest integer column; JSON integers beyond it are refused
# The range the report tasks compute with: they step a day or a week past the date
# and turn local midnight into UTC, so the ends of date's own range would overflow.
MIN_DATE = date(1900, 1, 1)
MAX_DATE = date(2999, 12, 31)

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DIGITS = re.compile(r"[0-9]+")


class _Refused:
    """A number JSON can hold but no field takes; read_json names the field it sat in."""

    def __init__(self, reason: str):
        self.reason = reason


def _parse_int(text: str):
    digits = len(text.lstrip("-"))
    if digits > len(str(MAX_INT)) or abs(int(text)) > MAX_INT:
        return _Refused(f"an integer too large ({digits} digits; at most {MAX_INT})")
    return int(text)


def _parse_float(text: str):
    value = float(text)
    return value if math.isfinite(value) else _Refused(f"a number too large ({_show(text)})")


def _parse_constant(name: str):
    return _Refused(f"{name}, which is not a number JSON allows")


def _show(value, limit: int = 60) -> str:
    """repr() for a message, cut short: the value may be megabytes long."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def check_text(value: str, where: str) -> str:
    """Refuse what no database stores alike: NUL (PostgreSQL refuses it) and lone surrogates (not UTF-8)."""
    bad = _UNSTORABLE.search(value)
    if bad is None:
        return value
    if bad.group() == "\x00":
        raise BadRequest(f"{where} contains a NUL character")
    raise BadRequest(f"{where} contains a lone surrogate (U+{ord(bad.group()):04X}), which is not valid text")


def _check_tree(data) -> None:
    """Walk the parsed body once: depth, numbers and every string (keys too), naming where."""
    queue = deque([(None, data, 0)])
    while queue:
        where, value, depth = queue.popleft()
        name = where or "request body"
        if isinstance(value, _Refused):
            raise BadRequest(f"{name} is {value.reason}")
        if isinstance(value, str):
            check_text(value, name)
        elif isinstance(value, (dict, list)):
            if depth >= MAX_DEPTH:
                raise BadRequest(f"{name} is nested deeper than {MAX_DEPTH} levels")
            if isinstance(value, dict):
                for key, item in value.items():
                    check_text(key, f"a key in {name}")
                    label = key if len(key) <= 40 else f"{key[:40]}..."
                    queue.append((f"{where}.{label}" if where else label, item, depth + 1))
            else:
                queue.extend((f"{name}[{index}]", item, depth + 1) for index, item in enumerate(value))


def _refuse_duplicate_keys(pairs: list) -> dict:
    # json.loads keeps the last of two equal keys: {"kind": "daily", "kind": "weekly"}
    # would run the weekly report although the client wrote daily first.
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise BadRequest(f"field {_show(key)} is given twice")
        seen[key] = value
    return seen


def read_json(request, fields: tuple[str, ...]) -> dict:
    """The request body as a dict of the view's `fields` whose values can all be stored and
    queued, or BadRequest. A field the view does not read is refused: a misspelt optional
    field would otherwise fall back to its default without a word."""
    try:
        body = request.body
    except RequestDataTooBig:
        raise BadRequest(f"request body is too large (at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes)") from None
    if not body:
        raise BadRequest("request body must be a JSON object")
    try:
        data = json.loads(
            body,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
            object_pairs_hook=_refuse_duplicate_keys,
        )
    except RecursionError:
        raise BadRequest(f"request body is nested too deeply (at most {MAX_DEPTH} levels)") from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise BadRequest(f"request body is not valid JSON: {exc}") from exc
    _check_tree(data)
    if not isinstance(data, dict):
        raise BadRequest("request body must be a JSON object")
    unknown = [key for key in data if key not in fields]
    if unknown:
        raise BadRequest(f"unknown field {_show(unknown[0])}; the fields are {list(fields)}")
    return data


def require_text(data: dict, field: str, max_length: int, required: bool = True) -> str:
    value = data.get(field, "")
    if not isinstance(value, str):
        raise BadRequest(f"{field} must be a string")
    value = check_text(value, field).strip()
    if required and not value:
        raise BadRequest(f"{field} is required")
    if len(value) > max_length:
        raise BadRequest(f"{field} is longer than {max_length} characters")
    return value


def require_int(value, field: str, minimum: int = 1, maximum: int = 2**31 - 1) -> int:
    """An int, or a string of ASCII digits, within [minimum, maximum]."""
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        if len(value.lstrip("0")) > len(str(maximum)):
            raise BadRequest(f"{field} must be between {minimum} and {maximum}, got {_show(value)}")
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{field} must be an integer, got {_show(value)}")
    if not minimum <= value <= maximum:
        raise BadRequest(f"{field} must be between {minimum} and {maximum}, got {_show(value)}")
    return value


def parse_date(value, field: str) -> str:
    """A date written as YYYY-MM-DD, between MIN_DATE and MAX_DATE."""
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise BadRequest(f"{field} must be a date as YYYY-MM-DD, got {_show(value)}")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{field}={value!r} is not a valid date (YYYY-MM-DD)") from None
    if not MIN_DATE <= day <= MAX_DATE:
        raise BadRequest(f"{field} must be between {MIN_DATE} and {MAX_DATE}, got {value}")
    return day.isoformat()


def record(task_id: str, name: str) -> None:
    TaskRecord.objects.create(task_id=task_id, name=name)


def accepted(task_id: str, name: str, **extra) -> JsonResponse:
    return JsonResponse({"task_id": task_id, "task": name, "status_url": f"/api/tasks/{task_id}", **extra}, status=202)


@csrf_exempt
def not_found(request, rest=""):
    """Any other path under /api/: JSON like every answer of the API, not Django's HTML page."""
    return JsonResponse({"error": f"no API endpoint {_show(request.path)}; see the README's API table"}, status=404)


# --- Doctors ----------------------------------------------------------------------------


@api(["POST"])
def create_doctor(request):
    data = read_json(request, ("name", "email", "specialty"))
    name = require_text(data, "name", 200)
    # Lower-cased before the length check: "İ" becomes two characters.
    email = require_text(data, "email", 254).lower()
    if len(email) > 254:
        raise BadRequest("email is longer than 254 characters")
    specialty = require_text(data, "specialty", 100, required=False)
    try:
        validate_email(email)
    except ValidationError:
        raise BadRequest(f"email {email!r} is not a valid address") from None
    task_id = str(uuid.uuid4())
    try:
        with transaction.atomic():
            doctor = Doctor.objects.create(name=name, email=email, specialty=specialty)
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
    data = read_json(request, ("kind", "date"))
    kind = data.get("kind", "daily")
    jobs = {"daily": tasks.generate_daily_reports, "weekly": tasks.generate_weekly_report}
    if not isinstance(kind, str) or kind not in jobs:
        raise BadRequest(f"kind must be one of {sorted(jobs)}, got {_show(kind)}")
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
    data = read_json(request, ("date",))
    day = parse_date(data.get("date"), "date")
    task_id = str(uuid.uuid4())
    record(task_id, tasks.summarize_doctor_statistics.name)
    workflows.doctor_statistics_for_day(day, task_id=task_id)
    return accepted(task_id, "doctor statistics chord")


# --- Claims -----------------------------------------------------------------------------

MAX_BULK_CLAIMS = 1000


@api(["POST"])
def bulk_claims(request):
    data = read_json(request, ("claim_ids",))
    ids = data.get("claim_ids")
    if not isinstance(ids, list) or not ids:
        raise BadRequest("claim_ids must be a non-empty list of claim ids")
    if len(ids) > MAX_BULK_CLAIMS:
        raise BadRequest(f"at most {MAX_BULK_CLAIMS} claims per request, got {len(ids)}")
    ids = [require_int(value, f"claim_ids[{index}]") for index, value in enumerate(ids)]
    task_id = str(uuid.uuid4())
    record(task_id, tasks.process_bulk_claims.name)
    tasks.process_bulk_claims.apply_async((ids,), task_id=task_id)
    return accepted(task_id, tasks.process_bulk_claims.name, claims=len(ids))


# --- Tasks --------------------------------------------------------------------------------


@api(["POST"])
def start_long_running(request):
    data = read_json(request, ("total", "step_seconds"))
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
        raise BadRequest(f"unknown queue {_show(queue)}; the queues are {list(QUEUE_NAMES)}")
    task_id = str(uuid.uuid4())
    record(task_id, health_check.name)
    health_check.apply_async(kwargs={"source": "api"}, queue=queue, routing_key=queue, task_id=task_id)
    return accepted(task_id, health_check.name, queue=queue)


def known_result(task_id: str) -> tuple[AsyncResult, TaskRecord]:
    try:
        uuid.UUID(task_id)
    except ValueError:
        raise BadRequest(f"task id {_show(task_id)} is malformed (expected a UUID)") from None
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

"""The JSON API on Django REST Framework. Every bad input gets a 400 with a message, never a 500.

Reading and creating the clinic's records are DRF generics. The endpoints that start work
answer 202 with the task's id and where to follow it (/api/tasks/<id>): each task id is
recorded first, so that /api/tasks tells "not run yet" from "never heard of".
"""

from __future__ import annotations

import json
import uuid

from celery import group
from celery.result import AsyncResult
from django.db import IntegrityError, transaction
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django_celery_deploy.tasks import health_check
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from config.celery import app as celery_app
from config.routing import QUEUE_NAMES

from .. import tasks, workflows
from ..models import Appointment, Claim, Doctor, MedicalReport, Patient, TaskRecord
from . import serializers as s
from .fields import IdField
from .input import BadRequest, _show

ACCEPTED = {202: s.AcceptedSerializer, 400: OpenApiResponse(description="bad input: {'error': message}")}


def record(task_id: str, name: str) -> None:
    TaskRecord.objects.create(task_id=task_id, name=name)


def accepted(task_id: str, name: str, **extra) -> Response:
    body = {"task_id": task_id, "task": name, "status_url": f"/api/tasks/{task_id}", **extra}
    return Response(body, status=status.HTTP_202_ACCEPTED)


def path_id(value: str, name: str) -> int:
    field = IdField()
    field.bind(name, None)
    try:
        return field.to_internal_value(value)
    except ValidationError as exc:  # a path segment: the same message, as a plain 400
        raise BadRequest(exc.detail[0]) from None


@csrf_exempt
def not_found(request, rest=""):
    """Any other path under /api/: JSON like every answer of the API, not Django's HTML page."""
    return JsonResponse({"error": f"no API endpoint {_show(request.path)}; see the README's API table"}, status=404)


# --- Records: create, list, read -------------------------------------------------------------


class DoctorList(generics.ListCreateAPIView):
    """Doctors. Creating one queues its welcome e-mail (the post_save signal, once, on commit)."""

    queryset = Doctor.objects.order_by("pk")
    serializer_class = s.DoctorSerializer

    def perform_create(self, serializer):
        email = serializer.validated_data["email"]
        try:
            with transaction.atomic():
                serializer.save()
        except IntegrityError:
            raise BadRequest(f"a doctor with e-mail {email!r} already exists") from None


class DoctorDetail(generics.RetrieveAPIView):
    queryset = Doctor.objects.all()
    serializer_class = s.DoctorSerializer


class PatientList(generics.ListCreateAPIView):
    queryset = Patient.objects.order_by("pk")
    serializer_class = s.PatientSerializer


class PatientDetail(generics.RetrieveAPIView):
    queryset = Patient.objects.all()
    serializer_class = s.PatientSerializer


class AppointmentList(generics.ListCreateAPIView):
    queryset = Appointment.objects.order_by("pk")
    serializer_class = s.AppointmentSerializer


class AppointmentDetail(generics.RetrieveAPIView):
    queryset = Appointment.objects.all()
    serializer_class = s.AppointmentSerializer


class MedicalReportList(generics.ListCreateAPIView):
    queryset = MedicalReport.objects.order_by("pk")
    serializer_class = s.MedicalReportSerializer


class MedicalReportDetail(generics.RetrieveAPIView):
    queryset = MedicalReport.objects.all()
    serializer_class = s.MedicalReportSerializer


class ClaimList(generics.ListCreateAPIView):
    queryset = Claim.objects.order_by("pk")
    serializer_class = s.ClaimSerializer


class ClaimDetail(generics.RetrieveAPIView):
    queryset = Claim.objects.all()
    serializer_class = s.ClaimSerializer


# --- Work: each answers 202 and the task to follow ---------------------------------------------


class Reminders(APIView):
    """Group: one reminder per appointment, sent in parallel on the e-mail queue."""

    @extend_schema(request=s.ReminderGroupSerializer, responses=ACCEPTED)
    def post(self, request):
        serializer = s.ReminderGroupSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ids = serializer.validated_data["appointment_ids"]
        signatures = []
        for pk in ids:
            task_id = str(uuid.uuid4())
            record(task_id, tasks.send_appointment_reminder.name)
            signatures.append(tasks.send_appointment_reminder.si(pk).set(task_id=task_id))
        result = group(signatures).apply_async()
        task_ids = [child.id for child in result.results]
        return Response(
            {"group_id": result.id, "task_ids": task_ids, "status_urls": [f"/api/tasks/{t}" for t in task_ids]},
            status=status.HTTP_202_ACCEPTED,
        )


class GenerateReport(APIView):
    @extend_schema(request=s.ReportRequestSerializer, responses=ACCEPTED)
    def post(self, request):
        serializer = s.ReportRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        jobs = {"daily": tasks.generate_daily_reports, "weekly": tasks.generate_weekly_report}
        task = jobs[serializer.validated_data["kind"]]
        task_id = str(uuid.uuid4())
        record(task_id, task.name)
        task.apply_async((serializer.validated_data.get("date"),), task_id=task_id)
        return accepted(task_id, task.name)


class ProcessReport(APIView):
    """Chain: process a medical report, then tell its doctor."""

    @extend_schema(request=None, responses=ACCEPTED)
    def post(self, request, report_id):
        report_id = path_id(report_id, "report id")
        if not MedicalReport.objects.filter(pk=report_id).exists():
            raise BadRequest(f"medical report {report_id} does not exist")
        task_id = str(uuid.uuid4())
        record(task_id, tasks.notify_report_processed.name)
        result = workflows.report_pipeline(report_id, task_id=task_id)
        record(result.parent.id, tasks.process_medical_report.name)
        return accepted(result.id, "report pipeline", process_task_id=result.parent.id)


class DoctorStatistics(APIView):
    """Chord: one statistics task per doctor, then one summary."""

    @extend_schema(request=s.StatisticsRequestSerializer, responses=ACCEPTED)
    def post(self, request):
        serializer = s.StatisticsRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        task_id = str(uuid.uuid4())
        record(task_id, tasks.summarize_doctor_statistics.name)
        workflows.doctor_statistics_for_day(serializer.validated_data["date"], task_id=task_id)
        return accepted(task_id, "doctor statistics chord")


class BulkClaims(APIView):
    @extend_schema(request=s.BulkClaimsSerializer, responses=ACCEPTED)
    def post(self, request):
        serializer = s.BulkClaimsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ids = serializer.validated_data["claim_ids"]
        task_id = str(uuid.uuid4())
        record(task_id, tasks.process_bulk_claims.name)
        tasks.process_bulk_claims.apply_async((ids,), task_id=task_id)
        return accepted(task_id, tasks.process_bulk_claims.name, claims=len(ids))


class LongRunning(APIView):
    @extend_schema(request=s.LongRunningSerializer, responses=ACCEPTED)
    def post(self, request):
        serializer = s.LongRunningSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        task_id = str(uuid.uuid4())
        record(task_id, tasks.long_running_task.name)
        tasks.long_running_task.apply_async(
            kwargs={"total": data["total"], "step_seconds": float(data["step_seconds"])}, task_id=task_id
        )
        return accepted(task_id, tasks.long_running_task.name, progress_url=f"/api/tasks/{task_id}/progress")


class PingQueue(APIView):
    """A health-check task through one queue: does its worker answer?"""

    @extend_schema(request=None, responses=ACCEPTED)
    def post(self, request, queue):
        if queue not in QUEUE_NAMES:
            raise BadRequest(f"unknown queue {_show(queue)}; the queues are {list(QUEUE_NAMES)}")
        task_id = str(uuid.uuid4())
        record(task_id, health_check.name)
        health_check.apply_async(kwargs={"source": "api"}, queue=queue, routing_key=queue, task_id=task_id)
        return accepted(task_id, health_check.name, queue=queue)


# --- Following a task -----------------------------------------------------------------------------


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


class TaskStatus(APIView):
    @extend_schema(responses=s.TaskStatusSerializer)
    def get(self, request, task_id):
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
        return Response(body)


class TaskProgress(APIView):
    @extend_schema(responses=s.TaskProgressSerializer)
    def get(self, request, task_id):
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
        return Response({"task_id": task_id, "state": state, "current": current, "total": total, "percent": percent})

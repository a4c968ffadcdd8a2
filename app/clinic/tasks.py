"""Celery tasks. Routing lives in config/queues.json, not here.

Most tasks run with acks_late (settings): a task whose worker dies is run again,
so each one checks a marker in the database before repeating an effect.
Tasks whose effect cannot be made idempotent (a free-form e-mail) opt out.
"""

from __future__ import annotations

import json
import smtplib
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from celery import shared_task
from celery.utils.log import get_task_logger
from django.conf import settings
from django.core.cache import cache
from django.core.mail import mail_admins, send_mail
from django.db import connection, transaction
from django.db.models import Count, F, Sum
from django.utils import timezone
from django_celery_deploy.models import WorkerHeartbeat

from .models import (
    Appointment,
    Claim,
    Doctor,
    GeneratedReport,
    MedicalReport,
    Patient,
    ProgressRun,
    TaskExecution,
    TaskRecord,
)

logger = get_task_logger(__name__)

# Errors worth retrying for an e-mail: the server refused, timed out or is down.
TRANSIENT_MAIL_ERRORS = (smtplib.SMTPException, OSError)

# Reference ranges used to flag lab values (unit as documented for each test).
REFERENCE_RANGES = {
    "glucose": (3.9, 7.8),  # mmol/L
    "systolic": (90, 140),  # mmHg
    "diastolic": (60, 90),  # mmHg
    "heart_rate": (50, 100),  # bpm
    "hemoglobin": (12.0, 17.5),  # g/dL
    "cholesterol": (0, 5.2),  # mmol/L
}


class ReportSourceNotReady(Exception):
    """The lab file a report refers to has not arrived yet: try again later."""


class ReportInvalid(Exception):
    """The report content cannot be processed: retrying will not help."""


# --- E-mail ------------------------------------------------------------------------


@shared_task(bind=True, rate_limit=settings.EMAIL_RATE_LIMIT, max_retries=3, default_retry_delay=30)
def send_welcome_email(self, doctor_id: int) -> dict:
    doctor = Doctor.objects.filter(pk=doctor_id).first()
    if doctor is None:  # deleted before its e-mail went out: nobody to welcome
        return {"doctor_id": doctor_id, "sent": False, "reason": "no such doctor"}
    if doctor.welcome_email_sent_at:
        return {"doctor_id": doctor_id, "sent": False, "reason": "already sent"}
    try:
        send_mail(
            subject="Welcome to the clinic",
            message=f"Dear Dr. {doctor.name},\n\nyour account is ready.\n",
            from_email=None,
            recipient_list=[doctor.email],
        )
    except TRANSIENT_MAIL_ERRORS as exc:
        raise self.retry(exc=exc) from exc
    Doctor.objects.filter(pk=doctor_id).update(welcome_email_sent_at=timezone.now())
    return {"doctor_id": doctor_id, "sent": True}


@shared_task(bind=True, rate_limit=settings.EMAIL_RATE_LIMIT, max_retries=3)
def send_appointment_reminder(self, appointment_id: int) -> dict:
    appointment = Appointment.objects.select_related("patient", "doctor").get(pk=appointment_id)
    if appointment.reminder_sent_at:
        return {"appointment_id": appointment_id, "sent": False, "reason": "already sent"}
    if appointment.status != Appointment.Status.SCHEDULED:
        return {"appointment_id": appointment_id, "sent": False, "reason": f"appointment is {appointment.status}"}
    if not appointment.patient.email:
        return {"appointment_id": appointment_id, "sent": False, "reason": "patient has no e-mail address"}
    Appointment.objects.filter(pk=appointment_id).update(reminder_attempts=F("reminder_attempts") + 1)
    when = timezone.localtime(appointment.scheduled_at)
    try:
        send_mail(
            subject="Appointment reminder",
            message=(
                f"Dear {appointment.patient.name},\n\nthis is a reminder of your appointment with "
                f"Dr. {appointment.doctor.name} on {when:%Y-%m-%d at %H:%M}.\n"
            ),
            from_email=None,
            recipient_list=[appointment.patient.email],
        )
    except TRANSIENT_MAIL_ERRORS as exc:
        Appointment.objects.filter(pk=appointment_id).update(reminder_error=f"{type(exc).__name__}: {exc}")
        raise self.retry(exc=exc, countdown=settings.REMINDER_RETRY_DELAY) from exc
    Appointment.objects.filter(pk=appointment_id).update(reminder_sent_at=timezone.now(), reminder_error="")
    return {"appointment_id": appointment_id, "sent": True}


# Free-form e-mail has no marker to check, so a redelivery would send it twice:
# acknowledge on receipt (at most once) instead of late.
@shared_task(bind=True, rate_limit=settings.EMAIL_RATE_LIMIT, acks_late=False, max_retries=3, default_retry_delay=30)
def send_notification_email(self, recipient: str, subject: str, body: str) -> dict:
    try:
        send_mail(subject=subject, message=body, from_email=None, recipient_list=[recipient])
    except TRANSIENT_MAIL_ERRORS as exc:
        raise self.retry(exc=exc) from exc
    return {"recipient": recipient, "sent": True}


@shared_task
def send_daily_reminders() -> dict:
    now = timezone.now()
    due = Appointment.objects.filter(
        status=Appointment.Status.SCHEDULED,
        reminder_sent_at__isnull=True,
        scheduled_at__gt=now,
        scheduled_at__lte=now + timedelta(days=1),
    ).values_list("pk", flat=True)
    ids = list(due)
    for appointment_id in ids:
        send_appointment_reminder.delay(appointment_id)
    return {"queued": len(ids)}


# --- Medical reports ---------------------------------------------------------------


@shared_task(
    bind=True,
    autoretry_for=(ReportSourceNotReady,),
    retry_backoff=settings.REPORT_RETRY_BACKOFF,
    retry_backoff_max=settings.REPORT_RETRY_BACKOFF_MAX,
    retry_jitter=True,
    max_retries=5,
)
def process_medical_report(self, report_id: int) -> dict:
    MedicalReport.objects.filter(pk=report_id).update(
        status=MedicalReport.Status.PROCESSING, attempts=F("attempts") + 1
    )
    report = MedicalReport.objects.get(pk=report_id)
    try:
        values = _read_report_values(report)
    except ReportSourceNotReady as exc:
        if self.request.retries >= self.max_retries:
            _fail_report(report_id, f"{exc} (gave up after {report.attempts} attempts)")
        else:
            MedicalReport.objects.filter(pk=report_id).update(error=str(exc))
        raise
    except ReportInvalid as exc:
        _fail_report(report_id, str(exc))
        raise

    abnormal = {}
    for name, value in values.items():
        low, high = REFERENCE_RANGES.get(name, (None, None))
        if low is not None and not (low <= value <= high):
            abnormal[name] = {"value": value, "low": low, "high": high}
    summary = {
        "values": values,
        "abnormal": abnormal,
        "unknown_tests": sorted(set(values) - set(REFERENCE_RANGES)),
        "status": "attention" if abnormal else "normal",
    }
    MedicalReport.objects.filter(pk=report_id).update(
        status=MedicalReport.Status.COMPLETED, summary=summary, error="", completed_at=timezone.now()
    )
    return {"report_id": report_id, "status": "completed", "abnormal": sorted(abnormal)}


def _fail_report(report_id: int, message: str) -> None:
    MedicalReport.objects.filter(pk=report_id).update(status=MedicalReport.Status.FAILED, error=message)


def _read_report_values(report: MedicalReport) -> dict:
    text = report.content
    if not text and report.source_path:
        path = Path(report.source_path)
        if not path.exists():
            raise ReportSourceNotReady(f"lab file {path} has not arrived yet")
        text = path.read_text(encoding="utf-8")
    if not text:
        raise ReportInvalid("report has neither content nor a source file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportInvalid(f"report content is not JSON: {exc}") from exc
    if not isinstance(data, dict) or not data:
        raise ReportInvalid("report content must be a non-empty JSON object of test name to value")
    values = {}
    for name, value in data.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ReportInvalid(f"value of {name!r} is not a number")
        values[str(name)] = value
    return values


@shared_task
def notify_report_processed(result: dict) -> dict:
    """Chain callback: tell the doctor that a report is ready."""
    report = MedicalReport.objects.select_related("doctor", "patient").get(pk=result["report_id"])
    if not report.doctor or not report.doctor.email:
        return {"report_id": report.pk, "notified": False}
    flagged = ", ".join(result.get("abnormal") or []) or "none"
    send_mail(
        subject=f"Report ready: {report.title}",
        message=f"The report for {report.patient.name} is processed. Abnormal values: {flagged}.\n",
        from_email=None,
        recipient_list=[report.doctor.email],
    )
    return {"report_id": report.pk, "notified": True}


@shared_task(bind=True)
def long_running_task(self, total: int = 10, step_seconds: float = 1.0) -> dict:
    """A batch job that reports PROGRESS and resumes where it stopped if redelivered."""
    run, _ = ProgressRun.objects.get_or_create(task_id=self.request.id, defaults={"total": total})
    for current in range(run.done + 1, total + 1):
        time.sleep(step_seconds)
        ProgressRun.objects.filter(pk=run.pk).update(done=current)
        self.update_state(
            state="PROGRESS",
            meta={"current": current, "total": total, "percent": round(100 * current / total, 1)},
        )
    ProgressRun.objects.filter(pk=run.pk).update(finished_at=timezone.now())
    return {"current": total, "total": total, "percent": 100.0, "resumed_from": run.done}


# --- Housekeeping ----------------------------------------------------------------------


@shared_task
def check_expired_appointments() -> dict:
    cutoff = timezone.now() - timedelta(minutes=settings.APPOINTMENT_EXPIRY_GRACE_MINUTES)
    expired = Appointment.objects.filter(status=Appointment.Status.SCHEDULED, scheduled_at__lt=cutoff).update(
        status=Appointment.Status.EXPIRED
    )
    return {"expired": expired}


@shared_task
def cleanup_old_records() -> dict:
    now = timezone.now()
    cutoff = now - timedelta(days=settings.RECORD_RETENTION_DAYS)
    closed = [Appointment.Status.COMPLETED, Appointment.Status.CANCELLED, Appointment.Status.EXPIRED]
    appointments, _ = Appointment.objects.filter(status__in=closed, scheduled_at__lt=cutoff).delete()
    heartbeats, _ = WorkerHeartbeat.objects.filter(seen_at__lt=cutoff).delete()
    result_cutoff = now - timedelta(seconds=settings.CELERY_RESULT_EXPIRES)
    records, _ = TaskRecord.objects.filter(created_at__lt=result_cutoff).delete()
    progress, _ = ProgressRun.objects.filter(finished_at__lt=result_cutoff).delete()
    return {
        "appointments": appointments,
        "heartbeats": heartbeats,
        "task_records": records,
        "progress_runs": progress,
        "broker_messages": purge_consumed_broker_messages(),
    }


def purge_consumed_broker_messages() -> int:
    """Delete rows kombu's SQLAlchemy transport marked consumed but never deletes."""
    if settings.BROKER.kind != "sqlalchemy":
        return 0
    with connection.cursor() as cursor:
        if "kombu_message" not in connection.introspection.table_names(cursor):
            return 0
        cursor.execute("DELETE FROM kombu_message WHERE visible = %s", [False])
        return cursor.rowcount


@shared_task
def purge_broker_messages() -> dict:
    return {"broker_messages": purge_consumed_broker_messages()}


# --- Cache ---------------------------------------------------------------------------

CACHE_TTL = 6 * 3600


@shared_task
def cache_warmup() -> dict:
    now = timezone.now()
    week = now + timedelta(days=7)
    upcoming = dict(
        Appointment.objects.filter(status=Appointment.Status.SCHEDULED, scheduled_at__gte=now, scheduled_at__lt=week)
        .values_list("doctor_id")
        .annotate(n=Count("pk"))
        .values_list("doctor_id", "n")
    )
    entries = {f"doctor:{pk}:upcoming": upcoming.get(pk, 0) for pk in Doctor.objects.values_list("pk", flat=True)}
    entries["clinic:stats"] = {
        "doctors": Doctor.objects.count(),
        "patients": Patient.objects.count(),
        "upcoming_appointments": sum(upcoming.values()),
        "warmed_at": now.isoformat(),
    }
    cache.set_many(entries, timeout=CACHE_TTL)
    return {"keys": len(entries)}


@shared_task
def cleanup_expired_cache() -> dict:
    backend = settings.CACHES["default"]["BACKEND"]
    if not backend.endswith("DatabaseCache"):
        # Redis expires keys itself; nothing is left to sweep.
        return {"deleted": 0, "backend": backend.rsplit(".", 1)[-1]}
    table = connection.ops.quote_name(settings.CACHES["default"]["LOCATION"])
    now = connection.ops.adapt_datetimefield_value(timezone.now().replace(microsecond=0))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE expires < %s", [now])  # noqa: S608 (table from settings)
        deleted = cursor.rowcount
    return {"deleted": deleted, "backend": "DatabaseCache"}


# --- Reports ---------------------------------------------------------------------------


def _period_stats(start: date, end: date) -> dict:
    """Aggregates for [start, end] inclusive, in the clinic's time zone."""
    tz = timezone.get_current_timezone()
    lo = timezone.make_aware(datetime.combine(start, datetime.min.time()), tz)
    hi = timezone.make_aware(datetime.combine(end + timedelta(days=1), datetime.min.time()), tz)
    appointments = Appointment.objects.filter(scheduled_at__gte=lo, scheduled_at__lt=hi)
    claims = Claim.objects.filter(submitted_at__gte=lo, submitted_at__lt=hi)
    by_status = dict(appointments.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
    claim_rows = claims.values("status").annotate(n=Count("pk"), total=Sum("amount"))
    per_doctor = dict(appointments.values_list("doctor__name").annotate(n=Count("pk")).values_list("doctor__name", "n"))
    return {
        "period": [start.isoformat(), end.isoformat()],
        "appointments": {"total": sum(by_status.values()), "by_status": by_status},
        "appointments_per_doctor": per_doctor,
        "new_patients": Patient.objects.filter(created_at__gte=lo, created_at__lt=hi).count(),
        "claims": {
            row["status"]: {"count": row["n"], "amount": str(row["total"] or Decimal("0"))} for row in claim_rows
        },
        "reports_completed": MedicalReport.objects.filter(completed_at__gte=lo, completed_at__lt=hi).count(),
    }


def _parse_day(value: str | None, default: date) -> date:
    return date.fromisoformat(value) if value else default


@shared_task
def generate_daily_reports(day: str | None = None) -> dict:
    """The clinic's report for one day (yesterday by default)."""
    target = _parse_day(day, timezone.localdate() - timedelta(days=1))
    report, created = GeneratedReport.objects.update_or_create(
        kind=GeneratedReport.Kind.DAILY,
        period_start=target,
        defaults={"period_end": target, "data": _period_stats(target, target), "generated_at": timezone.now()},
    )
    return {"report_id": report.pk, "kind": "daily", "period_start": target.isoformat(), "created": created}


@shared_task
def generate_weekly_report(week_of: str | None = None) -> dict:
    """The report for the Monday-to-Sunday week containing ``week_of`` (last week by default)."""
    anchor = _parse_day(week_of, timezone.localdate() - timedelta(days=7))
    start = anchor - timedelta(days=anchor.weekday())
    end = start + timedelta(days=6)
    report, created = GeneratedReport.objects.update_or_create(
        kind=GeneratedReport.Kind.WEEKLY,
        period_start=start,
        defaults={"period_end": end, "data": _period_stats(start, end), "generated_at": timezone.now()},
    )
    # The seed e-mails the weekly report to the admins: from the e-mail queue, after commit.
    transaction.on_commit(lambda: email_weekly_report.delay(report.pk))
    return {"report_id": report.pk, "kind": "weekly", "period_start": start.isoformat(), "created": created}


def weekly_report_text(report: GeneratedReport) -> str:
    """The weekly report as the admins read it in their mail."""
    data = report.data
    lines = [
        f"Clinic report for {report.period_start} to {report.period_end}",
        "",
        f"Appointments: {data['appointments']['total']}",
        *(f"  {status}: {count}" for status, count in sorted(data["appointments"]["by_status"].items())),
        f"New patients: {data['new_patients']}",
        f"Medical reports completed: {data['reports_completed']}",
        "Claims:",
        *(f"  {status}: {row['count']} ({row['amount']})" for status, row in sorted(data["claims"].items())),
        "Appointments per doctor:",
        *(f"  {name}: {count}" for name, count in sorted(data["appointments_per_doctor"].items())),
    ]
    return "\n".join(lines) + "\n"


@shared_task(bind=True, rate_limit=settings.EMAIL_RATE_LIMIT, max_retries=3, default_retry_delay=30)
def email_weekly_report(self, report_id: int) -> dict:
    """Send one weekly report to settings.ADMINS (DJANGO_ADMINS), once."""
    report = GeneratedReport.objects.filter(pk=report_id, kind=GeneratedReport.Kind.WEEKLY).first()
    if report is None:
        return {"report_id": report_id, "sent": False, "reason": "no such weekly report"}
    if not settings.ADMINS:
        return {"report_id": report_id, "sent": False, "reason": "no admins configured (DJANGO_ADMINS)"}
    if report.emailed_at:
        return {"report_id": report_id, "sent": False, "reason": "already sent"}
    try:
        mail_admins(f"Weekly report {report.period_start}", weekly_report_text(report), fail_silently=False)
    except TRANSIENT_MAIL_ERRORS as exc:
        raise self.retry(exc=exc) from exc
    GeneratedReport.objects.filter(pk=report_id).update(emailed_at=timezone.now())
    return {"report_id": report_id, "sent": True, "admins": len(settings.ADMINS)}


@shared_task
def doctor_statistics(doctor_id: int, day: str) -> dict:
    target = date.fromisoformat(day)
    doctor = Doctor.objects.get(pk=doctor_id)
    appointments = Appointment.objects.filter(doctor=doctor, scheduled_at__date=target)
    return {
        "doctor_id": doctor_id,
        "doctor": doctor.name,
        "appointments": appointments.count(),
        "completed": appointments.filter(status=Appointment.Status.COMPLETED).count(),
        "reports": MedicalReport.objects.filter(doctor=doctor, completed_at__date=target).count(),
    }


@shared_task
def summarize_doctor_statistics(results: list[dict], day: str) -> dict:
    """Chord callback: one report holding every doctor's figures for the day."""
    target = date.fromisoformat(day)
    data = {
        "doctors": sorted(results, key=lambda row: row["doctor_id"]),
        "appointments": sum(row["appointments"] for row in results),
        "completed": sum(row["completed"] for row in results),
    }
    report, _ = GeneratedReport.objects.update_or_create(
        kind=GeneratedReport.Kind.DOCTORS,
        period_start=target,
        defaults={"period_end": target, "data": data, "generated_at": timezone.now()},
    )
    return {"report_id": report.pk, "doctors": len(results), "appointments": data["appointments"]}


# --- Claims ------------------------------------------------------------------------------


@shared_task
def process_bulk_claims(claim_ids: list[int]) -> dict:
    limit = Decimal(str(settings.CLAIM_AUTO_APPROVE_LIMIT))
    outcome = {"approved": 0, "rejected": 0, "skipped": 0, "missing": []}
    for claim_id in claim_ids:
        with transaction.atomic():
            claim = Claim.objects.select_for_update().filter(pk=claim_id).first()
            if claim is None:
                outcome["missing"].append(claim_id)
                continue
            if claim.status != Claim.Status.SUBMITTED:
                outcome["skipped"] += 1  # already decided: a redelivery changes nothing
                continue
            if claim.amount <= 0:
                claim.status, claim.decision_reason = Claim.Status.REJECTED, "amount must be positive"
            elif claim.amount > limit:
                claim.status, claim.decision_reason = Claim.Status.REJECTED, f"above auto-approval limit {limit}"
            else:
                claim.status, claim.decision_reason = Claim.Status.APPROVED, "within auto-approval limit"
            claim.processed_at = timezone.now()
            claim.save(update_fields=["status", "decision_reason", "processed_at"])
            outcome["approved" if claim.status == Claim.Status.APPROVED else "rejected"] += 1
    logger.info(
        "bulk claims: %d approved, %d rejected, %d already decided, %d missing",
        outcome["approved"],
        outcome["rejected"],
        outcome["skipped"],
        len(outcome["missing"]),
    )
    return outcome


# --- Monitoring ------------------------------------------------------------------------------


@shared_task(bind=True)
def drill_work(self, seconds: float = 1.0) -> str:
    """The drills' task: records each of its runs (TaskExecution), so that what a
    failure lost or ran twice is counted by the task itself, not inferred."""
    run = TaskExecution.objects.create(task_id=self.request.id, hostname=self.request.hostname or "unknown")
    time.sleep(seconds)
    TaskExecution.objects.filter(pk=run.pk).update(finished_at=timezone.now())
    return self.request.id


@shared_task
def noop(sent_at: float | None = None) -> float:
    """The benchmark's task: measures the machinery, not the work. Returns when it started."""
    return time.time()


@shared_task
def touch_record(sent_at: float | None = None) -> float:
    """The benchmark's small database task: one insert. Returns when it started."""
    started = time.time()
    TaskRecord.objects.create(task_id=f"bench-{time.time_ns()}", name="clinic.tasks.touch_record")
    return started

"""Reports: the daily and weekly figures, the weekly one e-mailed to the admins, the per-doctor
chord, and a long batch job that reports its progress."""

from __future__ import annotations

import time
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal

from celery import shared_task
from django.conf import settings
from django.core.mail import mail_admins
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone

from ..domain import weekly_report_text
from ..models import Appointment, Claim, Doctor, GeneratedReport, MedicalReport, Patient, ProgressRun, TaskRecord
from .emails import TRANSIENT_MAIL_ERRORS


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


@shared_task(name="clinic.tasks.generate_daily_reports")
def generate_daily_reports(day: str | None = None) -> dict:
    """The clinic's report for one day (yesterday by default)."""
    target = _parse_day(day, timezone.localdate() - timedelta(days=1))
    report, created = GeneratedReport.objects.update_or_create(
        kind=GeneratedReport.Kind.DAILY,
        period_start=target,
        defaults={"period_end": target, "data": _period_stats(target, target), "generated_at": timezone.now()},
    )
    return {"report_id": report.pk, "kind": "daily", "period_start": target.isoformat(), "created": created}


@shared_task(name="clinic.tasks.generate_weekly_report")
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
    # The seed e-mails the weekly report to the admins: from the e-mail queue, after commit. The
    # task is recorded here so that the result can name it and GET /api/tasks/<id> follow it.
    # Once per week: a report generated again for a week already sent is not sent again.
    email_task_id = str(uuid.uuid4())
    TaskRecord.objects.create(task_id=email_task_id, name=email_weekly_report.name)
    transaction.on_commit(lambda: email_weekly_report.apply_async((report.pk,), task_id=email_task_id))
    return {
        "report_id": report.pk,
        "kind": "weekly",
        "period_start": start.isoformat(),
        "created": created,
        "email_task_id": email_task_id,
    }


@shared_task(
    name="clinic.tasks.email_weekly_report",
    bind=True,
    rate_limit=settings.EMAIL_RATE_LIMIT,
    max_retries=3,
    default_retry_delay=30,
    track_started=False,  # an e-mail task: see emails.py
)
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


@shared_task(name="clinic.tasks.doctor_statistics")
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


@shared_task(name="clinic.tasks.summarize_doctor_statistics")
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


@shared_task(name="clinic.tasks.long_running_task", bind=True)
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

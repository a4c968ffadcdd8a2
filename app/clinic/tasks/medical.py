"""Medical reports: read the lab values, flag what is out of range (clinic.domain), tell the doctor."""

from __future__ import annotations

from pathlib import Path

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db.models import F
from django.utils import timezone

from ..domain import ReportInvalid, ReportSourceNotReady, parse_lab_values, summarize_lab_values
from ..models import MedicalReport
from .emails import TRANSIENT_MAIL_ERRORS


@shared_task(
    name="clinic.tasks.process_medical_report",
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

    summary = summarize_lab_values(values)
    MedicalReport.objects.filter(pk=report_id).update(
        status=MedicalReport.Status.COMPLETED, summary=summary, error="", completed_at=timezone.now()
    )
    return {"report_id": report_id, "status": "completed", "abnormal": sorted(summary["abnormal"])}


def _fail_report(report_id: int, message: str) -> None:
    MedicalReport.objects.filter(pk=report_id).update(status=MedicalReport.Status.FAILED, error=message)


def _read_report_values(report: MedicalReport) -> dict:
    text = report.content
    if not text and report.source_path:
        path = Path(report.source_path)
        if not path.exists():
            raise ReportSourceNotReady(f"lab file {path} has not arrived yet")
        text = path.read_text(encoding="utf-8")
    return parse_lab_values(text)


# An e-mail task like those of emails.py: rate-limited, retried on a mail server's error, and
# marked once sent (doctor_notified_at), so a redelivery under acks_late sends nothing twice.
@shared_task(
    name="clinic.tasks.notify_report_processed",
    bind=True,
    rate_limit=settings.EMAIL_RATE_LIMIT,
    max_retries=3,
    default_retry_delay=30,
    track_started=False,
)
def notify_report_processed(self, result: dict) -> dict:
    """Chain callback: tell the doctor that a report is ready."""
    report = MedicalReport.objects.select_related("doctor", "patient").get(pk=result["report_id"])
    if report.doctor_notified_at:
        return {"report_id": report.pk, "notified": False, "reason": "already notified"}
    if not report.doctor or not report.doctor.email:
        return {"report_id": report.pk, "notified": False}
    flagged = ", ".join(result.get("abnormal") or []) or "none"
    try:
        send_mail(
            subject=f"Report ready: {report.title}",
            message=f"The report for {report.patient.name} is processed. Abnormal values: {flagged}.\n",
            from_email=None,
            recipient_list=[report.doctor.email],
        )
    except TRANSIENT_MAIL_ERRORS as exc:
        raise self.retry(exc=exc) from exc
    MedicalReport.objects.filter(pk=report.pk).update(doctor_notified_at=timezone.now())
    return {"report_id": report.pk, "notified": True}

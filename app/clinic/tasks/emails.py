"""E-mail to people: each task checks its marker before sending, so a redelivery sends nothing twice."""

from __future__ import annotations

import smtplib
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db.models import F
from django.utils import timezone

from ..models import Appointment, Doctor

# Errors worth retrying for an e-mail: the server refused, timed out or is down.
# Every e-mail task runs on the emails queue's threads and takes about one SMTP exchange:
# none stores STARTED (track_started=False), which would cost a result write per message for
# a state that lasts milliseconds; queued, done and failed are still stored.
TRANSIENT_MAIL_ERRORS = (smtplib.SMTPException, OSError)


@shared_task(
    name="clinic.tasks.send_welcome_email",
    track_started=False,
    bind=True,
    rate_limit=settings.EMAIL_RATE_LIMIT,
    max_retries=3,
    default_retry_delay=30,
)
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


@shared_task(
    name="clinic.tasks.send_appointment_reminder",
    bind=True,
    rate_limit=settings.EMAIL_RATE_LIMIT,
    max_retries=3,
    track_started=False,
)
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
@shared_task(
    name="clinic.tasks.send_notification_email",
    track_started=False,
    bind=True,
    rate_limit=settings.EMAIL_RATE_LIMIT,
    acks_late=False,
    max_retries=3,
    default_retry_delay=30,
)
def send_notification_email(self, recipient: str, subject: str, body: str) -> dict:
    try:
        send_mail(subject=subject, message=body, from_email=None, recipient_list=[recipient])
    except TRANSIENT_MAIL_ERRORS as exc:
        raise self.retry(exc=exc) from exc
    return {"recipient": recipient, "sent": True}


@shared_task(name="clinic.tasks.send_daily_reminders")
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

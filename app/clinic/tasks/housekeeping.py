"""Housekeeping beat runs: expire appointments, clean old rows and consumed broker messages, and
keep the cache warm."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone
from django_celery_deploy.models import WorkerHeartbeat

from ..models import Appointment, Doctor, Patient, ProgressRun, TaskRecord


@shared_task(name="clinic.tasks.check_expired_appointments")
def check_expired_appointments() -> dict:
    cutoff = timezone.now() - timedelta(minutes=settings.APPOINTMENT_EXPIRY_GRACE_MINUTES)
    expired = Appointment.objects.filter(status=Appointment.Status.SCHEDULED, scheduled_at__lt=cutoff).update(
        status=Appointment.Status.EXPIRED
    )
    return {"expired": expired}


@shared_task(name="clinic.tasks.cleanup_old_records")
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


@shared_task(name="clinic.tasks.purge_broker_messages")
def purge_broker_messages() -> dict:
    return {"broker_messages": purge_consumed_broker_messages()}


# --- Cache ---------------------------------------------------------------------------

CACHE_TTL = 6 * 3600


@shared_task(name="clinic.tasks.cache_warmup")
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


@shared_task(name="clinic.tasks.cleanup_expired_cache")
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

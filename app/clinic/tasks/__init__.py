"""Celery tasks, a module per concern; routing lives in config/queues.json, not here.

Most tasks run with acks_late (settings): a task whose worker dies is run again, so each one
checks a marker in the database before repeating an effect. Tasks whose effect cannot be
made idempotent (a free-form e-mail) opt out. The rules the tasks apply are plain functions
in clinic.domain.

Every task is named "clinic.tasks.<function>" explicitly, whatever its module: the routing
table, beat's schedule rows and the messages in flight during a rolling deploy all use the
name, so moving a task between modules must not rename it.
"""

from ..domain import ReportInvalid, ReportSourceNotReady
from .claims import process_bulk_claims
from .drills import drill_work
from .emails import (
    TRANSIENT_MAIL_ERRORS,
    send_appointment_reminder,
    send_daily_reminders,
    send_notification_email,
    send_welcome_email,
)
from .housekeeping import (
    cache_warmup,
    check_expired_appointments,
    cleanup_expired_cache,
    cleanup_old_records,
    purge_broker_messages,
    purge_consumed_broker_messages,
)
from .medical import notify_report_processed, process_medical_report
from .reports import (
    doctor_statistics,
    email_weekly_report,
    generate_daily_reports,
    generate_weekly_report,
    long_running_task,
    summarize_doctor_statistics,
)

__all__ = [
    "TRANSIENT_MAIL_ERRORS",
    "ReportInvalid",
    "ReportSourceNotReady",
    "cache_warmup",
    "check_expired_appointments",
    "cleanup_expired_cache",
    "cleanup_old_records",
    "doctor_statistics",
    "drill_work",
    "email_weekly_report",
    "generate_daily_reports",
    "generate_weekly_report",
    "long_running_task",
    "notify_report_processed",
    "process_bulk_claims",
    "process_medical_report",
    "purge_broker_messages",
    "purge_consumed_broker_messages",
    "send_appointment_reminder",
    "send_daily_reminders",
    "send_notification_email",
    "send_welcome_email",
    "summarize_doctor_statistics",
]

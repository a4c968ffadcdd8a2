"""Canvas workflows: a chain, a group and a chord built from the clinic tasks."""

from __future__ import annotations

from celery import chain, chord, group

from .models import Doctor
from .tasks import (
    doctor_statistics,
    notify_report_processed,
    process_bulk_claims,
    process_medical_report,
    summarize_doctor_statistics,
)


def report_pipeline(report_id: int, task_id: str | None = None):
    """Chain: process a report, then tell its doctor (only if processing succeeded)."""
    workflow = chain(process_medical_report.si(report_id), notify_report_processed.s())
    return workflow.apply_async(task_id=task_id)


def bulk_claims_in_batches(claim_ids: list[int], batch_size: int = 50):
    """Group: decide claims in parallel batches."""
    batches = [claim_ids[i : i + batch_size] for i in range(0, len(claim_ids), batch_size)]
    return group(process_bulk_claims.si(batch) for batch in batches).apply_async()


def doctor_statistics_for_day(day: str, task_id: str | None = None):
    """Chord: one statistics task per doctor, then one summary report from all of them."""
    header = [doctor_statistics.si(pk, day) for pk in Doctor.objects.order_by("pk").values_list("pk", flat=True)]
    return chord(header)(
        summarize_doctor_statistics.s(day).set(task_id=task_id) if task_id else summarize_doctor_statistics.s(day)
    )

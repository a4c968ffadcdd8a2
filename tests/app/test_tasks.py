"""Every task does its real work, run by real workers (one per queue) on the broker under test."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.utils import timezone
from django_celery_deploy.models import WorkerHeartbeat
from django_celery_deploy.tasks import health_check

from clinic import tasks, workflows
from clinic.models import (
    Appointment,
    Claim,
    Doctor,
    GeneratedReport,
    MedicalReport,
    Patient,
    TaskRecord,
)

pytestmark = pytest.mark.usefixtures("workers")


def unique(prefix="x"):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def doctor():
    return Doctor.objects.create(name=unique("Doc"), email=f"{unique('doc')}@clinic.test", specialty="GP")


@pytest.fixture
def patient():
    return Patient.objects.create(name=unique("Pat"), email=f"{unique('pat')}@clinic.test")


def test_creating_a_doctor_queues_exactly_one_welcome_email(api, outbox, until):
    email = f"{unique('new')}@clinic.test"
    response = api.post("/api/doctors", {"name": "Ada Lovelace", "email": email, "specialty": "Cardiology"})
    assert response.status_code == 201, response.content
    body = response.json()
    api.wait_state(body["welcome_email_task_id"])
    doctor = Doctor.objects.get(pk=body["id"])
    assert doctor.welcome_email_sent_at is not None
    assert len(outbox.to(email)) == 1
    # Running the task again (as a redelivery would) sends nothing more.
    assert tasks.send_welcome_email.delay(doctor.pk).get(timeout=20)["sent"] is False
    assert len(outbox.to(email)) == 1


def test_appointment_reminder_is_sent_once_and_marked(doctor, patient, outbox):
    appointment = Appointment.objects.create(
        doctor=doctor, patient=patient, scheduled_at=timezone.now() + timedelta(hours=5)
    )
    assert tasks.send_appointment_reminder.delay(appointment.pk).get(timeout=20)["sent"] is True
    appointment.refresh_from_db()
    assert appointment.reminder_sent_at is not None and appointment.reminder_attempts == 1
    assert tasks.send_appointment_reminder.delay(appointment.pk).get(timeout=20)["sent"] is False
    assert len(outbox.to(patient.email)) == 1


def test_daily_reminders_queue_a_reminder_for_each_appointment_in_the_next_day(doctor, patient, outbox, until):
    now = timezone.now()
    soon = [
        Appointment.objects.create(doctor=doctor, patient=patient, scheduled_at=now + timedelta(hours=h))
        for h in (2, 20)
    ]
    later = Appointment.objects.create(doctor=doctor, patient=patient, scheduled_at=now + timedelta(days=3))
    result = tasks.send_daily_reminders.delay().get(timeout=20)
    assert result["queued"] >= 2
    until(
        lambda: Appointment.objects.filter(pk__in=[a.pk for a in soon], reminder_sent_at__isnull=False).count() == 2,
        message="both reminders sent",
    )
    later.refresh_from_db()
    assert later.reminder_sent_at is None


def test_notification_email_lands_in_the_outbox(outbox):
    address = f"{unique('ops')}@clinic.test"
    tasks.send_notification_email.delay(address, "Disk almost full", "Please look.").get(timeout=20)
    [message] = outbox.to(address)
    assert "Subject: Disk almost full" in message


def test_medical_report_moves_from_processing_to_completed_with_flags(patient, doctor):
    report = MedicalReport.objects.create(
        patient=patient,
        doctor=doctor,
        title="Blood panel",
        content=json.dumps({"glucose": 11.2, "systolic": 120, "ferritin": 80}),
    )
    result = tasks.process_medical_report.delay(report.pk).get(timeout=20)
    report.refresh_from_db()
    assert report.status == MedicalReport.Status.COMPLETED
    assert report.attempts == 1
    assert result["abnormal"] == ["glucose"]
    assert report.summary["status"] == "attention"
    assert report.summary["unknown_tests"] == ["ferritin"]


def test_invalid_medical_report_fails_without_retrying(patient):
    report = MedicalReport.objects.create(patient=patient, title="Broken", content="{not json")
    result = tasks.process_medical_report.delay(report.pk)
    with pytest.raises(Exception, match="not JSON"):
        result.get(timeout=20)
    report.refresh_from_db()
    assert report.status == MedicalReport.Status.FAILED
    assert report.attempts == 1


def test_long_running_task_reports_progress_through_the_api(api, until):
    response = api.post("/api/tasks/long-running", {"total": 5, "step_seconds": 0.4})
    assert response.status_code == 202
    task_id = response.json()["task_id"]
    seen = []

    def progressed():
        body = api.get(f"/api/tasks/{task_id}/progress").json()
        if body["state"] == "PROGRESS" and body["current"] not in [s["current"] for s in seen]:
            seen.append(body)
        return body["state"] == "SUCCESS" and body

    final = until(progressed, timeout=30, interval=0.05, message="long task finished")
    assert final["percent"] == 100.0 and final["current"] == final["total"] == 5
    assert len(seen) >= 2, seen
    for body in seen:
        assert body["total"] == 5 and 0 < body["current"] <= 5
        assert body["percent"] == round(100 * body["current"] / 5, 1)
    assert any(body["current"] < 5 for body in seen), "no progress seen before the end"


def test_expired_appointments_are_marked_expired(doctor, patient):
    past = Appointment.objects.create(doctor=doctor, patient=patient, scheduled_at=timezone.now() - timedelta(hours=3))
    future = Appointment.objects.create(
        doctor=doctor, patient=patient, scheduled_at=timezone.now() + timedelta(hours=3)
    )
    assert tasks.check_expired_appointments.delay().get(timeout=20)["expired"] >= 1
    past.refresh_from_db()
    future.refresh_from_db()
    assert past.status == Appointment.Status.EXPIRED
    assert future.status == Appointment.Status.SCHEDULED


def test_cleanup_removes_only_closed_records_past_retention(doctor, patient):
    ancient = timezone.now() - timedelta(days=400)
    old_done = Appointment.objects.create(
        doctor=doctor, patient=patient, scheduled_at=ancient, status=Appointment.Status.COMPLETED
    )
    old_open = Appointment.objects.create(doctor=doctor, patient=patient, scheduled_at=ancient)
    result = tasks.cleanup_old_records.delay().get(timeout=20)
    assert result["appointments"] >= 1
    assert not Appointment.objects.filter(pk=old_done.pk).exists()
    assert Appointment.objects.filter(pk=old_open.pk).exists()


def test_cache_warmup_fills_the_shared_cache(doctor, patient):
    Appointment.objects.create(doctor=doctor, patient=patient, scheduled_at=timezone.now() + timedelta(days=1))
    result = tasks.cache_warmup.delay().get(timeout=20)
    assert result["keys"] >= 2
    # Written by the cache worker, read here: the cache is shared, not per process.
    assert cache.get(f"doctor:{doctor.pk}:upcoming") == 1
    assert cache.get("clinic:stats")["doctors"] >= 1


def test_cleanup_expired_cache_removes_expired_entries_only(broker):
    cache.set("stale-entry", "old", timeout=1)
    cache.set("fresh-entry", "new", timeout=600)
    import time

    time.sleep(2.1)
    result = tasks.cleanup_expired_cache.delay().get(timeout=20)
    if broker == "redis":
        assert result == {"deleted": 0, "backend": "RedisCache"}  # Redis expires keys itself
    else:
        from django.db import connection

        assert result["deleted"] >= 1
        with connection.cursor() as cursor:
            cursor.execute("SELECT cache_key FROM clinic_cache")
            keys = [row[0] for row in cursor.fetchall()]
        assert not any(k.endswith("stale-entry") for k in keys)
        assert any(k.endswith("fresh-entry") for k in keys)
    assert cache.get("fresh-entry") == "new"


def test_daily_and_weekly_reports_aggregate_the_period(doctor, patient):
    day = timezone.localdate() - timedelta(days=1)
    when = timezone.now() - timedelta(days=1)
    Appointment.objects.create(doctor=doctor, patient=patient, scheduled_at=when, status=Appointment.Status.COMPLETED)
    Claim.objects.create(patient=patient, amount=Decimal("120.50"), submitted_at=when)
    daily = tasks.generate_daily_reports.delay(day.isoformat()).get(timeout=20)
    report = GeneratedReport.objects.get(pk=daily["report_id"])
    assert report.kind == "daily" and report.period_start == day
    assert report.data["appointments"]["by_status"]["completed"] >= 1
    assert report.data["appointments_per_doctor"][doctor.name] == 1
    # Running it again updates the same row (idempotent under redelivery).
    again = tasks.generate_daily_reports.delay(day.isoformat()).get(timeout=20)
    assert again["report_id"] == daily["report_id"] and again["created"] is False

    weekly = tasks.generate_weekly_report.delay(day.isoformat()).get(timeout=20)
    week = GeneratedReport.objects.get(pk=weekly["report_id"])
    assert week.period_start.weekday() == 0 and (week.period_end - week.period_start).days == 6
    assert week.data["appointments"]["total"] >= 1


def test_bulk_claims_are_decided_by_the_limit_and_only_once(api, patient):
    ok = Claim.objects.create(patient=patient, amount=Decimal("100"))
    big = Claim.objects.create(patient=patient, amount=Decimal("999999"))
    response = api.post("/api/claims/bulk", {"claim_ids": [ok.pk, big.pk, 987654321]})
    assert response.status_code == 202
    body = api.wait_state(response.json()["task_id"])
    assert body["state"] == "SUCCESS"
    assert body["result"] == {"approved": 1, "rejected": 1, "skipped": 0, "missing": [987654321]}
    ok.refresh_from_db()
    big.refresh_from_db()
    assert ok.status == "approved" and big.status == "rejected" and "limit" in big.decision_reason
    assert tasks.process_bulk_claims.delay([ok.pk, big.pk]).get(timeout=20)["skipped"] == 2


def test_health_check_records_the_queue_and_worker_that_answered(workers):
    result = health_check.apply_async(kwargs={"source": "test"}, queue="monitoring").get(timeout=20)
    assert result["queue"] == "monitoring"
    assert result["hostname"].startswith("monitoring@")
    assert WorkerHeartbeat.objects.filter(queue="monitoring", source="test").exists()


def test_api_ping_runs_on_each_queues_own_worker(api):
    from config.routing import QUEUE_NAMES

    for queue in QUEUE_NAMES:
        response = api.post(f"/api/queues/{queue}/ping")
        assert response.status_code == 202
        body = api.wait_state(response.json()["task_id"])
        assert body["state"] == "SUCCESS"
        assert body["result"]["queue"] == queue
        assert body["result"]["hostname"].startswith(f"{queue}@")


def test_chain_processes_a_report_then_notifies_its_doctor(api, doctor, patient, outbox):
    report = MedicalReport.objects.create(
        patient=patient, doctor=doctor, title="Lipids", content=json.dumps({"cholesterol": 6.1})
    )
    response = api.post(f"/api/medical-reports/{report.pk}/process")
    assert response.status_code == 202
    body = api.wait_state(response.json()["task_id"])
    assert body["result"] == {"report_id": report.pk, "notified": True}
    # The doctor's other mail is the welcome e-mail (the post_save signal).
    [message] = [m for m in outbox.to(doctor.email) if "Report ready" in m]
    assert "cholesterol" in message


def test_a_redelivered_report_notification_sends_no_second_email(doctor, patient, outbox):
    report = MedicalReport.objects.create(
        patient=patient, doctor=doctor, title="Redelivered", content=json.dumps({"glucose": 5.0})
    )
    # The same message run twice, as a redelivery under acks_late would (in this process).
    first = tasks.notify_report_processed.apply(({"report_id": report.pk, "abnormal": []},)).get()
    second = tasks.notify_report_processed.apply(({"report_id": report.pk, "abnormal": []},)).get()
    assert first["notified"] and second == {"report_id": report.pk, "notified": False, "reason": "already notified"}
    assert len([m for m in outbox.to(doctor.email) if "Report ready: Redelivered" in m]) == 1


def test_group_decides_claims_in_parallel_batches(patient):
    claims = [Claim.objects.create(patient=patient, amount=Decimal(10 + i)) for i in range(7)]
    result = workflows.bulk_claims_in_batches([c.pk for c in claims], batch_size=3)
    outcomes = result.get(timeout=30)
    assert len(outcomes) == 3
    assert sum(o["approved"] for o in outcomes) == 7
    assert Claim.objects.filter(pk__in=[c.pk for c in claims], status="approved").count() == 7


def test_chord_summarizes_every_doctors_statistics(api, doctor, patient):
    day = timezone.localdate()
    Appointment.objects.create(doctor=doctor, patient=patient, scheduled_at=timezone.now())
    response = api.post("/api/workflows/doctor-statistics", {"date": day.isoformat()})
    assert response.status_code == 202
    body = api.wait_state(response.json()["task_id"], timeout=40)
    assert body["state"] == "SUCCESS", body
    assert body["result"]["doctors"] == Doctor.objects.count()
    summary = GeneratedReport.objects.get(kind="doctors", period_start=day)
    assert doctor.pk in [row["doctor_id"] for row in summary.data["doctors"]]


def test_generate_report_endpoint_returns_a_task_id_that_completes(api):
    response = api.post("/api/reports", {"kind": "weekly"})
    assert response.status_code == 202
    task_id = response.json()["task_id"]
    assert TaskRecord.objects.filter(task_id=task_id).exists()
    body = api.wait_state(task_id)
    assert body["state"] == "SUCCESS" and body["result"]["kind"] == "weekly"


def test_sending_tasks_does_not_subscribe_the_sender_to_their_results(broker):
    """The web process sends tasks and polls their state; it must not collect a pub/sub
    subscription per task sent (Celery's Redis backend default), which grows without bound."""
    from config.celery import app

    backend = app.backend
    results = [health_check.apply_async(kwargs={"source": "subscribe-test"}) for _ in range(50)]
    if broker == "redis":
        assert not any(r.id in str(backend.result_consumer.subscribed_to) for r in results)
    # Waiting still works: get() subscribes on demand and reads the stored result.
    assert results[-1].get(timeout=20)["queue"] == "monitoring"
    assert all(r.get(timeout=20)["queue"] == "monitoring" for r in results)


def test_a_late_retry_state_does_not_replace_the_next_attempts_success(broker):
    """A retry publishes the next attempt before it stores RETRY; when the next attempt
    finishes first (a countdown of 0 under retry_jitter), the late RETRY must not win,
    or get() on a finished task waits forever."""
    from config.celery import app

    backend = app.backend
    task_id = str(uuid.uuid4())
    backend.store_result(task_id, None, "STARTED")
    backend.store_result(task_id, {"status": "completed"}, "SUCCESS")
    backend.mark_as_retry(task_id, RuntimeError("previous attempt"))
    backend.mark_as_started(task_id)
    meta = backend._get_task_meta_for(task_id)
    assert meta["status"] == "SUCCESS"
    assert meta["result"] == {"status": "completed"}
    if broker != "redis":  # the database backend also keeps a failure final
        failed_id = str(uuid.uuid4())
        backend.mark_as_failure(failed_id, ValueError("gave up"))
        backend.mark_as_retry(failed_id, RuntimeError("late"))
        assert backend._get_task_meta_for(failed_id)["status"] == "FAILURE"

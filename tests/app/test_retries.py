"""Retries and backoff, with real failures: an SMTP server that refuses, a lab file that is late."""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from clinic import tasks
from clinic.models import Appointment, Doctor, MedicalReport, Patient
from tests.support.procs import start_worker, stop_all
from tests.support.servers import free_port


@pytest.fixture(scope="module")
def failing_mail_workers(log_dir):
    # Nothing listens on this loopback port: every SMTP connection is refused.
    env = {"EMAIL_BACKEND": "smtp", "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(free_port()), "EMAIL_TIMEOUT": "2"}
    # Report retries wait up to 1, 2, 4, 4, 4 s (full jitter): with the suite's 1 s cap,
    # all five retries could finish before a test reacts to the first one.
    env["REPORT_RETRY_BACKOFF_MAX"] = "4"
    queues = ("default", "emails", "reports")
    started = [start_worker([queue], log_dir, name=f"retry-{queue}", env=env) for queue in queues]
    for worker in started:
        worker.wait_for_log("ready.", timeout=90)
    yield started
    stop_all(started)


pytestmark = pytest.mark.usefixtures("failing_mail_workers")


def make_people():
    tag = uuid.uuid4().hex[:8]
    doctor = Doctor.objects.create(name=f"Doc {tag}", email=f"doc-{tag}@clinic.test")
    patient = Patient.objects.create(name=f"Pat {tag}", email=f"pat-{tag}@clinic.test")
    return doctor, patient


def test_reminder_retries_three_times_then_fails_with_the_smtp_error():
    doctor, patient = make_people()
    appointment = Appointment.objects.create(
        doctor=doctor, patient=patient, scheduled_at=timezone.now() + timedelta(hours=3)
    )
    started = time.monotonic()
    result = tasks.send_appointment_reminder.delay(appointment.pk)
    with pytest.raises(ConnectionRefusedError):
        result.get(timeout=60)
    elapsed = time.monotonic() - started
    appointment.refresh_from_db()
    assert appointment.reminder_attempts == 4  # the first try and max_retries=3
    assert appointment.reminder_sent_at is None
    assert "ConnectionRefusedError" in appointment.reminder_error
    assert elapsed >= 3 * 1  # three waits of REMINDER_RETRY_DELAY (1 s in the tests)


def test_report_retries_with_backoff_until_its_lab_file_arrives(data_dir, until):
    _, patient = make_people()
    lab_file = data_dir / f"lab-{uuid.uuid4().hex}.json"
    report = MedicalReport.objects.create(patient=patient, title="Late labs", source_path=str(lab_file))
    result = tasks.process_medical_report.delay(report.pk)
    # The file arrives as soon as the first attempt has failed for want of it.
    until(lambda: MedicalReport.objects.get(pk=report.pk).attempts >= 1, timeout=30, message="first attempt")
    lab_file.write_text(json.dumps({"hemoglobin": 14.0}))
    assert result.get(timeout=60)["status"] == "completed"
    report.refresh_from_db()
    assert report.status == MedicalReport.Status.COMPLETED
    assert report.attempts >= 2
    assert report.summary["status"] == "normal"


def test_report_gives_up_after_five_retries_and_is_marked_failed(data_dir):
    _, patient = make_people()
    report = MedicalReport.objects.create(
        patient=patient, title="Never arrives", source_path=str(data_dir / "missing-forever.json")
    )
    result = tasks.process_medical_report.delay(report.pk)
    with pytest.raises(tasks.ReportSourceNotReady):
        result.get(timeout=90)
    report.refresh_from_db()
    assert report.attempts == 6  # the first try and max_retries=5
    assert report.status == MedicalReport.Status.FAILED
    assert "gave up after 6 attempts" in report.error

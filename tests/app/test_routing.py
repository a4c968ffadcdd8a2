"""A worker that listens only on `reports` runs report tasks and nothing else."""

from __future__ import annotations

import time
import uuid

import pytest
from django_celery_deploy.tasks import health_check

from clinic import tasks
from clinic.models import MedicalReport, Patient
from config.celery import app as celery_app
from tests.support.procs import start_worker


@pytest.fixture
def reports_only_worker(log_dir):
    worker = start_worker(["reports"], log_dir, name=f"only-reports-{uuid.uuid4().hex[:4]}")
    worker.wait_for_log("ready.", timeout=90)
    yield worker
    worker.stop()
    # Leave no stray messages for the next module's workers.
    celery_app.control.purge()


def test_reports_worker_takes_report_tasks_and_no_others(reports_only_worker):
    patient = Patient.objects.create(name="Routing", email="routing@clinic.test")
    report = MedicalReport.objects.create(patient=patient, title="Routed", content='{"glucose": 5.0}')
    others = {
        "monitoring": health_check.apply_async(kwargs={"source": "routing-test"}),
        "cache": tasks.cache_warmup.delay(),
        "default": tasks.send_notification_email.delay("routing@clinic.test", "s", "b"),
    }
    report_result = tasks.process_medical_report.delay(report.pk)
    assert report_result.get(timeout=30)["status"] == "completed"
    time.sleep(3)  # time enough for a wrongly subscribed worker to take the others
    for queue, result in others.items():
        assert result.state == "PENDING", f"a task for {queue!r} ran on the reports-only worker"
    log = reports_only_worker.output()
    received = [line for line in log.splitlines() if "] received" in line]
    assert received and all("clinic.tasks.process_medical_report" in line for line in received), received
    assert "Task clinic.tasks.process_medical_report" in log

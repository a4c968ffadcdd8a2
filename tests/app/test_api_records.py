"""The API as DRF serves it: its OpenAPI schema and docs, the clinic's records created and read
over HTTP, the reminder group, the welcome e-mail from the post_save signal however a doctor is
made, and the weekly report e-mailed to the admins. Real workers run what is queued."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import Client, override_settings
from django.utils import timezone

from clinic import tasks
from clinic.models import Appointment, Claim, Doctor, GeneratedReport, MedicalReport, Patient, TaskRecord


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


NOON = "2026-01-01T12:00:00Z"


def created(response) -> dict:
    assert response.status_code == 201, response.content
    return response.json()


# --- Schema and docs: no worker needed -------------------------------------------------------------


def test_the_openapi_schema_is_served_and_is_valid_openapi(api):
    # drf-spectacular's validator: the official OpenAPI JSON Schema of the version it writes.
    from drf_spectacular.validation import validate_schema

    response = Client().get("/api/schema?format=json")  # no token: the schema is public
    assert response.status_code == 200, response.content[:300]
    schema = json.loads(response.content)
    validate_schema(schema)
    paths = schema["paths"]
    for path in ("/api/doctors", "/api/patients", "/api/appointments", "/api/appointments/reminders"):
        assert path in paths, sorted(paths)
    for path in ("/api/medical-reports", "/api/claims", "/api/claims/bulk", "/api/tasks/{task_id}"):
        assert path in paths, sorted(paths)
    assert schema["components"]["securitySchemes"]["bearerToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "the deployment's API_TOKEN",
    }


def test_the_schema_generates_without_a_warning():
    from django.core.management import call_command

    # --fail-on-warn: a view drf-spectacular cannot describe fails here, not in a client's generator.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")


def test_swagger_ui_is_served_from_the_app_not_a_cdn():
    # The suite runs no collectstatic: plain storage names the files without a manifest.
    plain = {**settings.STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    with override_settings(STORAGES=plain):
        page = Client().get("/api/docs")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn" not in html.lower()


def test_a_request_without_the_token_is_refused_with_a_bearer_challenge():
    response = Client().get("/api/patients")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json()["error"] == "missing or wrong API token"


@pytest.mark.parametrize(
    ("header", "status"),
    [
        # RFC 9110 section 11.1: the scheme is case-insensitive, and may be followed by several spaces.
        ("bearer {token}", 200),
        ("BEARER {token}", 200),
        ("Bearer   {token}", 200),
        # The token itself is compared exactly.
        ("Bearer {upper}", 401),
        ("Bearer {token}x", 401),
        ("Basic {token}", 401),
        ("Bearer", 401),
    ],
)
def test_the_bearer_scheme_is_case_insensitive_and_the_token_exact(header, status):
    from conftest import API_TOKEN

    value = header.format(token=API_TOKEN, upper=API_TOKEN.swapcase())
    response = Client(HTTP_AUTHORIZATION=value).get("/api/patients")
    assert response.status_code == status, (value, response.content)


# --- Records over HTTP -----------------------------------------------------------------------------


def test_patients_appointments_reports_and_claims_are_created_and_read_back(api):
    doctor = created(api.post("/api/doctors", {"name": "Dr Who", "email": f"{unique('who')}@clinic.test"}))
    patient = created(
        api.post(
            "/api/patients", {"name": "Amy", "email": f"{unique('amy')}@clinic.test", "date_of_birth": "1990-05-01"}
        )
    )
    when = (timezone.now() + timedelta(days=2)).isoformat()
    appointment = created(
        api.post("/api/appointments", {"doctor": doctor["id"], "patient": patient["id"], "scheduled_at": when})
    )
    assert appointment["status"] == "scheduled"
    report = created(
        api.post(
            "/api/medical-reports",
            {"patient": patient["id"], "doctor": doctor["id"], "title": "Bloods", "content": '{"glucose": 5.4}'},
        )
    )
    assert report["status"] == "pending"
    claim = created(
        api.post("/api/claims", {"patient": patient["id"], "appointment": appointment["id"], "amount": "120.50"})
    )
    assert claim["status"] == "submitted" and claim["amount"] == "120.50"

    for kind, body in [
        ("doctors", doctor),
        ("patients", patient),
        ("appointments", appointment),
        ("medical-reports", report),
        ("claims", claim),
    ]:
        read = api.get(f"/api/{kind}/{body['id']}")
        assert read.status_code == 200, (kind, read.content)
        assert read.json()["id"] == body["id"]
        listing = api.get(f"/api/{kind}?page_size=1000")
        assert listing.status_code == 200
        assert {"count", "next", "previous", "results"} <= set(listing.json())


@pytest.mark.parametrize(
    ("url", "body", "fragments"),
    [
        (
            "/api/appointments",
            {"doctor": 10**12, "patient": "<patient>", "scheduled_at": "2026-01-01T10:00:00Z"},
            ["doctor", "does not exist"],
        ),
        (
            "/api/appointments",
            {"doctor": True, "patient": "<patient>", "scheduled_at": "2026-01-01T10:00:00Z"},
            ["doctor", "integer"],
        ),
        (
            "/api/appointments",
            {"doctor": "<doctor>", "patient": "<patient>", "scheduled_at": "tomorrow"},
            ["scheduled_at", "ISO 8601"],
        ),
        ("/api/claims", {"patient": "<patient>", "amount": "NaN"}, ["amount"]),
        ("/api/claims", {"patient": "<patient>", "amount": "-5"}, ["amount"]),
        ("/api/patients", {"name": "X", "date_of_birth": "1990-02-30"}, ["date_of_birth", "not a valid date"]),
        ("/api/patients", {"name": "X", "email": "nope"}, ["email", "not a valid address"]),
        (
            "/api/medical-reports",
            {"patient": "<patient>", "title": "T", "source_path": "/etc/shadow"},
            ["unknown field 'source_path'"],
        ),
        ("/api/appointments/reminders", {"appointment_ids": []}, ["appointment_ids must be a non-empty list"]),
        # A claim for one patient on another patient's appointment.
        (
            "/api/claims",
            {"patient": "<patient>", "appointment": "<other_appointment>", "amount": "10"},
            ["appointment", "belongs to patient"],
        ),
        # Lab values the report's processing would fail on: refused when the report is made.
        ("/api/medical-reports", {"patient": "<patient>", "title": "T", "content": "not json"}, ["content", "JSON"]),
        ("/api/medical-reports", {"patient": "<patient>", "title": "T", "content": '{"glucose": NaN}'}, ["content"]),
        ("/api/medical-reports", {"patient": "<patient>", "title": "T", "content": "[1, 2]"}, ["content", "object"]),
        (
            "/api/medical-reports",
            {"patient": "<patient>", "title": "T", "content": '{"a": true}'},
            ["content", "number"],
        ),
        (
            "/api/medical-reports",
            {"patient": "<patient>", "title": "T", "content": '{"glucose": 5, "glucose": 6}'},
            ["content", "'glucose' is given twice"],
        ),
        ("/api/appointments/reminders", {"appointment_ids": [10**9]}, ["appointment", "does not exist"]),
    ],
)
def test_a_bad_record_gets_a_400_naming_the_field_and_creates_nothing(api, url, body, fragments):
    # Real ids where the body names "<doctor>" or "<patient>": only the field under test is wrong.
    doctor = Doctor.objects.create(name="Ids", email=f"{unique('ids')}@clinic.test")
    other = Appointment.objects.create(
        doctor=doctor, patient=Patient.objects.create(name="Other"), scheduled_at=timezone.now()
    )
    ids = {"<doctor>": doctor.pk, "<patient>": Patient.objects.create(name="Ids").pk, "<other_appointment>": other.pk}
    body = {key: ids.get(value, value) if isinstance(value, str) else value for key, value in body.items()}
    models = (Appointment, Patient, MedicalReport, Claim)
    before = {model: model.objects.count() for model in models}
    response = api.post(url, body)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    for fragment in fragments:
        assert fragment in error, error
    assert {model: model.objects.count() for model in models} == before


@pytest.mark.parametrize("kind", ["doctors", "patients", "appointments", "medical-reports", "claims"])
@pytest.mark.parametrize("pk", ["0", "99999999999", "9" * 30])
def test_reading_a_record_that_does_not_exist_is_a_json_404(api, kind, pk):
    response = api.get(f"/api/{kind}/{pk}")
    assert response.status_code == 404
    assert response.json()["error"]


# --- The welcome e-mail: the post_save signal ---------------------------------------------------------


@pytest.mark.usefixtures("workers")
def test_a_doctor_rolled_back_gets_no_welcome_email(outbox, until):
    gone = f"{unique('gone')}@clinic.test"
    with pytest.raises(RuntimeError), transaction.atomic():
        doctor = Doctor.objects.create(name="Gone", email=gone)
        task_id = doctor.welcome_email_task_id
        raise RuntimeError("roll back")
    # A doctor committed after it: once its e-mail is out, the rolled-back one's would be too.
    kept = Doctor.objects.create(name="Kept", email=f"{unique('kept')}@clinic.test")
    until(lambda: Doctor.objects.get(pk=kept.pk).welcome_email_sent_at is not None, timeout=30, message="welcome sent")
    assert not TaskRecord.objects.filter(task_id=task_id).exists()
    assert tasks.send_welcome_email.AsyncResult(task_id).state == "PENDING"
    assert outbox.to(gone) == []


@pytest.mark.usefixtures("workers")
@pytest.mark.parametrize("how", ["api", "admin", "shell"])
def test_a_new_doctor_gets_exactly_one_welcome_email_however_it_was_made(api, outbox, until, how):
    email = f"{unique(how)}@clinic.test"
    if how == "api":
        created(api.post("/api/doctors", {"name": "By API", "email": email}))
    elif how == "admin":
        user = get_user_model().objects.create_superuser(unique("admin"), f"{unique('a')}@clinic.test", "pw-for-tests")
        client = Client()
        client.force_login(user)
        form = {
            "name": "By Admin",
            "email": email,
            "specialty": "",
            "created_at_0": "2026-01-01",
            "created_at_1": "10:00:00",
        }
        page = client.post("/admin/clinic/doctor/add/", form)
        assert page.status_code == 302, page.content[:500]
    else:
        Doctor.objects.create(name="By Shell", email=email)
    doctor = Doctor.objects.get(email=email)
    until(
        lambda: Doctor.objects.get(pk=doctor.pk).welcome_email_sent_at is not None, timeout=30, message="welcome sent"
    )
    assert len(outbox.to(email)) == 1
    # Saving the doctor again is an update: no second e-mail is queued.
    doctor = Doctor.objects.get(pk=doctor.pk)
    doctor.specialty = "GP"
    doctor.save()
    assert not hasattr(doctor, "welcome_email_task_id")
    assert tasks.send_welcome_email.delay(doctor.pk).get(timeout=20)["sent"] is False
    assert len(outbox.to(email)) == 1


# --- The reminder group and the weekly e-mail -------------------------------------------------------------


@pytest.mark.usefixtures("workers")
def test_the_reminder_group_sends_one_reminder_per_appointment(api, outbox, until):
    doctor = Doctor.objects.create(name="Group Doc", email=f"{unique('gd')}@clinic.test")
    patients = [Patient.objects.create(name=f"P{n}", email=f"{unique('gp')}@clinic.test") for n in range(3)]
    soon = timezone.now() + timedelta(hours=3)
    appointments = [Appointment.objects.create(doctor=doctor, patient=p, scheduled_at=soon) for p in patients]
    response = api.post("/api/appointments/reminders", {"appointment_ids": [a.pk for a in appointments]})
    assert response.status_code == 202, response.content
    body = response.json()
    assert len(body["task_ids"]) == 3 and body["group_id"]
    for task_id in body["task_ids"]:
        assert api.wait_state(task_id)["state"] == "SUCCESS"
    for patient in patients:
        assert len(outbox.to(patient.email)) == 1
    assert Appointment.objects.filter(pk__in=[a.pk for a in appointments], reminder_sent_at__isnull=False).count() == 3


@pytest.mark.usefixtures("workers")
def test_the_weekly_report_is_emailed_to_the_admins_once(api, outbox, until):
    week_of = (timezone.localdate() - timedelta(days=7 * 40)).isoformat()  # a week no other test writes
    response = api.post("/api/reports", {"kind": "weekly", "date": week_of})
    assert response.status_code == 202, response.content
    result = api.wait_state(response.json()["task_id"])["result"]
    report = GeneratedReport.objects.get(pk=result["report_id"])
    # The report's result names its e-mail task, which the API follows like any other.
    mailed = api.wait_state(result["email_task_id"])
    assert mailed["state"] == "SUCCESS" and mailed["result"]["sent"] is True, mailed
    until(lambda: GeneratedReport.objects.get(pk=report.pk).emailed_at is not None, timeout=30, message="report mailed")
    subject = f"Weekly report {report.period_start}"
    for admin in ("admin-one@clinic.test", "admin-two@clinic.test"):
        mails = [m for m in outbox.messages() if admin in m and subject in m]
        assert len(mails) == 1, outbox.messages()[-3:]
    assert f"Clinic report for {report.period_start} to {report.period_end}" in mails[0]
    # A redelivered e-mail task sends nothing more.
    assert tasks.email_weekly_report.delay(report.pk).get(timeout=20)["sent"] is False

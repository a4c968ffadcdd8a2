"""Every bad input gets a 400 with a message that names the problem; never a 500."""

from __future__ import annotations

import json
import uuid

import pytest
from django.test import Client

from clinic.models import Doctor


@pytest.mark.parametrize(
    ("url", "body", "message"),
    [
        ("/api/doctors", None, "JSON object"),
        ("/api/doctors", "{not json", "not valid JSON"),
        ("/api/doctors", "[1, 2]", "JSON object"),
        ("/api/doctors", {"email": "a@b.test"}, "name is required"),
        ("/api/doctors", {"name": "A", "email": "not-an-address"}, "not a valid address"),
        ("/api/doctors", {"name": 42, "email": "a@b.test"}, "name must be a string"),
        ("/api/reports", {"kind": "monthly"}, "kind must be one of"),
        ("/api/reports", {"kind": "daily", "date": "2026-13-45"}, "not a valid date"),
        ("/api/reports", {"kind": "daily", "date": 20260101}, "YYYY-MM-DD"),
        ("/api/medical-reports/abc/process", {}, "report id must be an integer"),
        ("/api/medical-reports/99999999/process", {}, "does not exist"),
        ("/api/workflows/doctor-statistics", {}, "date must be a date"),
        ("/api/claims/bulk", {}, "claim_ids must be a non-empty list"),
        ("/api/claims/bulk", {"claim_ids": []}, "claim_ids must be a non-empty list"),
        ("/api/claims/bulk", {"claim_ids": ["x"]}, "must be an integer"),
        ("/api/claims/bulk", {"claim_ids": [-1]}, "between 1 and"),
        ("/api/claims/bulk", {"claim_ids": list(range(1, 1002))}, "at most 1000"),
        ("/api/tasks/long-running", {"total": 0}, "total must be between 1 and 1000"),
        ("/api/tasks/long-running", {"total": 3, "step_seconds": "slow"}, "step_seconds must be a number"),
        ("/api/queues/nope/ping", {}, "unknown queue 'nope'"),
    ],
)
def test_bad_post_gets_400_with_a_message(api, url, body, message):
    raw = body if isinstance(body, str) else (None if body is None else json.dumps(body))
    response = api.post(url, raw="" if raw is None else raw)
    assert response.status_code == 400, response.content
    assert message in response.json()["error"]


@pytest.mark.parametrize("suffix", ["", "/progress"])
def test_malformed_task_id_gets_400(api, suffix):
    response = api.get(f"/api/tasks/not-a-uuid{suffix}")
    assert response.status_code == 400
    assert "malformed" in response.json()["error"]


@pytest.mark.parametrize("suffix", ["", "/progress"])
def test_unknown_task_id_gets_400(api, suffix):
    response = api.get(f"/api/tasks/{uuid.uuid4()}{suffix}")
    assert response.status_code == 400
    assert "unknown task id" in response.json()["error"]


def test_duplicate_doctor_email_gets_400_and_creates_nothing(api):
    email = f"dup-{uuid.uuid4().hex[:6]}@clinic.test"
    assert api.post("/api/doctors", {"name": "First", "email": email}).status_code == 201
    response = api.post("/api/doctors", {"name": "Second", "email": email.upper()})
    assert response.status_code == 400
    assert "already exists" in response.json()["error"]
    assert Doctor.objects.filter(email=email).count() == 1


def test_api_refuses_a_missing_or_wrong_token():
    assert Client().post("/api/doctors", data="{}", content_type="application/json").status_code == 401
    wrong = Client(HTTP_AUTHORIZATION="Bearer wrong")
    assert wrong.get(f"/api/tasks/{uuid.uuid4()}").status_code == 401


def test_wrong_method_gets_405(api):
    assert api.get("/api/doctors").status_code == 405

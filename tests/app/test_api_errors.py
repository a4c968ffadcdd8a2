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
        ("/api/doctors", None, "name is required"),  # no body: no fields
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
        # 1000 x 10 s would outlast any time limit: refused here, not failed in the worker.
        ("/api/tasks/long-running", {"total": 1000, "step_seconds": 10}, "would run 10000 s"),
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
    assert api.get("/api/claims/bulk").status_code == 405
    assert api.client.delete("/api/doctors").status_code == 405


# --- Input the parser, the database or the worker used to choke on (a 500 then) ------------

JSON_ENDPOINTS = [
    "/api/doctors",
    "/api/reports",
    "/api/workflows/doctor-statistics",
    "/api/claims/bulk",
    "/api/tasks/long-running",
]


def post_bytes(api, url, body: bytes):
    return api.client.post(url, data=body, content_type="application/json")


def assert_400(response, *fragments):
    assert response.status_code == 400, response.content[:500]
    error = response.json()["error"]
    for fragment in fragments:
        assert fragment in error, error
    return error


@pytest.mark.parametrize("url", JSON_ENDPOINTS)
def test_a_body_nested_100000_deep_is_a_400_not_a_500(api, url):
    assert_400(api.post(url, raw="[" * 100_000 + "]" * 100_000), "nested")
    assert_400(api.post(url, raw='{"name": ' + "[" * 100_000 + "]" * 100_000 + "}"), "nested")


def test_a_value_nested_deeper_than_the_limit_is_a_400_naming_the_field(api):
    assert_400(api.post("/api/claims/bulk", raw='{"claim_ids": ' + "[" * 200 + "]" * 200 + "}"), "claim_ids", "nested")


@pytest.mark.parametrize(
    ("url", "field", "raw"),
    [
        ("/api/tasks/long-running", "total", '{"total": ' + "9" * 5000 + "}"),
        ("/api/tasks/long-running", "step_seconds", '{"total": 1, "step_seconds": -' + "1" * 5000 + "}"),
        ("/api/claims/bulk", "claim_ids[0]", '{"claim_ids": [' + "9" * 5000 + "]}"),
        ("/api/doctors", "name", '{"name": ' + "9" * 5000 + ', "email": "a@b.test"}'),
        ("/api/reports", "kind", '{"kind": ' + "9" * 5000 + "}"),
    ],
)
def test_an_integer_of_5000_digits_is_a_400_naming_the_field(api, url, field, raw):
    assert_400(api.post(url, raw=raw), field, "too large")


def test_a_claim_id_given_as_a_numeric_string_too_big_is_a_400(api):
    assert_400(api.post("/api/claims/bulk", {"claim_ids": ["9" * 5000]}), "claim_ids[0]", "between 1 and")
    assert_400(api.post("/api/claims/bulk", {"claim_ids": [1, "99999999999"]}), "claim_ids[1]", "between 1 and")


def test_a_report_id_in_the_url_too_big_is_a_400(api):
    assert_400(api.post("/api/medical-reports/" + "9" * 5000 + "/process"), "report id", "between 1 and")


@pytest.mark.parametrize("kind", [[], {}, ["daily"], {"daily": 1}])
def test_a_report_kind_that_is_not_a_string_is_a_400(api, kind):
    assert_400(api.post("/api/reports", {"kind": kind}), "kind must be one of")


@pytest.mark.parametrize("field", ["name", "email", "specialty"])
def test_a_lone_surrogate_in_a_doctor_field_is_a_400_naming_the_field(api, field):
    body = {"name": "Dr A", "email": f"s-{uuid.uuid4().hex[:6]}@clinic.test", "specialty": "GP"}
    raw = json.dumps(body).replace(json.dumps(body[field]), '"x\\ud800y"')
    assert_400(api.post("/api/doctors", raw=raw), field, "surrogate")


def test_a_lone_surrogate_sent_as_raw_bytes_is_a_400(api):
    raw = b'{"name": "x\xed\xa0\x80y", "email": "raw-surrogate@clinic.test"}'
    assert_400(post_bytes(api, "/api/doctors", raw), "name", "surrogate")


@pytest.mark.parametrize(
    ("url", "raw", "field"),
    [
        ("/api/doctors", '{"name": "A\\u0000B", "email": "nul-name@clinic.test"}', "name"),
        ("/api/doctors", '{"name": "A", "email": "nul-specialty@clinic.test", "specialty": "G\\u0000P"}', "specialty"),
        ("/api/reports", '{"kind": "daily\\u0000"}', "kind"),
        ("/api/claims/bulk", '{"claim_ids": ["1\\u0000"]}', "claim_ids[0]"),
        ("/api/doctors", '{"name": "A", "email": "nul-key@clinic.test", "x\\u0000": 1}', "key"),
    ],
)
def test_a_nul_character_is_a_400_on_every_database(api, url, raw, field):
    assert_400(api.post(url, raw=raw), field, "NUL")
    assert not Doctor.objects.filter(email__startswith="nul-").exists()


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/reports", {"kind": "daily", "date": "9999-12-31"}),
        ("/api/reports", {"kind": "weekly", "date": "9999-12-31"}),
        ("/api/reports", {"kind": "weekly", "date": "9999-12-27"}),
        ("/api/reports", {"kind": "daily", "date": "0001-01-01"}),
        ("/api/workflows/doctor-statistics", {"date": "9999-12-31"}),
        ("/api/workflows/doctor-statistics", {"date": "0001-01-01"}),
    ],
)
def test_a_report_date_the_worker_cannot_compute_with_is_a_400(api, url, body):
    assert_400(api.post(url, body), "date", "between")


@pytest.mark.parametrize("value", ["20260101", "2026-W01-1", "2026-01-01T00:00", " 2026-01-01", "2026-01-01\n"])
@pytest.mark.parametrize("url", ["/api/reports", "/api/workflows/doctor-statistics"])
def test_a_date_not_written_as_yyyy_mm_dd_is_a_400(api, url, value):
    assert_400(api.post(url, {"date": value}), "date", "YYYY-MM-DD")


def test_dates_inside_the_range_are_accepted_as_yyyy_mm_dd():
    from clinic.api import input as views

    assert views.parse_date("2026-01-01", "date") == "2026-01-01"
    assert views.parse_date(views.MIN_DATE.isoformat(), "date") == views.MIN_DATE.isoformat()
    assert views.parse_date(views.MAX_DATE.isoformat(), "date") == views.MAX_DATE.isoformat()


def test_a_body_over_the_upload_limit_is_a_400_with_a_json_message(api):
    from django.conf import settings

    raw = '{"name": "' + "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10) + '"}'
    assert_400(api.post("/api/doctors", raw=raw), "too large")


@pytest.mark.parametrize(
    "raw", ["NaN", '{"total": 1, "step_seconds": Infinity}', '{"total": 1, "step_seconds": 1e999}']
)
def test_a_number_json_cannot_hold_is_a_400(api, raw):
    assert_400(api.post("/api/tasks/long-running", raw=raw), "number")


def test_an_email_that_grows_when_lowercased_is_a_400_not_an_overlong_row(api):
    # "İ" lowercases to two characters: checked before lowering, the 252-character
    # address passed and was stored as 316 (a DataError on PostgreSQL's varchar(254)).
    email = "\u0130" * 64 + "@" + ("a" * 60 + ".") * 3 + "test"
    assert len(email) <= 254 < len(email.lower())
    assert_400(api.post("/api/doctors", {"name": "Long", "email": email}), "email", "254")


# --- Fields nobody reads: a typo must not fall back to a default silently -----------------


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/doctors", {"name": "A", "email": "unknown-field@example.com", "foo": 1}, "foo"),
        ("/api/reports", {"kind": "daily", "dat": "2020-01-01"}, "dat"),
        ("/api/workflows/doctor-statistics", {"date": "2026-01-01", "Date": "2026-01-02"}, "Date"),
        ("/api/claims/bulk", {"claim_ids": [1], "claim_id": [2]}, "claim_id"),
        ("/api/tasks/long-running", {"total": 2, "steps": 1}, "steps"),
    ],
)
def test_a_field_the_endpoint_does_not_know_is_a_400_naming_it(api, url, body, field):
    error = assert_400(api.post(url, body), f"unknown field '{field}'")
    assert "the fields are" in error


def test_a_field_given_twice_is_a_400_naming_it(api):
    raw = b'{"kind": "daily", "date": "2026-01-01", "kind": "weekly"}'
    assert_400(post_bytes(api, "/api/reports", raw), "field 'kind' is given twice")


def test_an_unknown_api_path_and_a_wrong_method_answer_json(api):
    missing = api.get("/api/no-such-thing")
    assert missing.status_code == 404 and "error" in missing.json()
    wrong = api.get("/api/claims/bulk")
    assert wrong.status_code == 405 and "POST" in wrong.json()["error"]

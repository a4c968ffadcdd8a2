"""Property-based fuzzing of the JSON API: whatever arrives, the answer is 2xx or 4xx, never 5xx.

Hypothesis throws arbitrary JSON at every POST endpoint: deep nesting, integers
beyond any column (and beyond Python's int-to-str limit), non-finite numbers,
strings with NUL and lone surrogates (escaped and as raw bytes), wrong types,
and bodies shaped like the endpoint's own fields so the values reach the
database and the broker. A 4xx must carry a JSON message.

Messages that do get through are real (broker and database as in production);
the module purges the queues and deletes the doctors it created when it ends,
so later modules' workers start from a clean slate.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from clinic.models import Appointment, Claim, Doctor, MedicalReport, Patient
from config.celery import app as celery_app
from config.routing import QUEUE_NAMES

# The strategies' reprs are large (long sample strings); that is fine here.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")

FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,  # no .hypothesis/ directory in the work tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)


class RawJSON(str):
    """A JSON fragment written out verbatim: json.dumps cannot write a 5000-digit int or 100 000 brackets."""

    def __repr__(self) -> str:
        return f"RawJSON({str.__repr__(self[:40])}...{len(self)} chars)" if len(self) > 60 else f"RawJSON({self!s})"


SPECIAL_STRINGS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfffy",
    "\U0001f600",
    "\u0130" * 70 + "@clinic.test",
    "-1",
    "0",
    "1",
    "2147483648",
    "1e3",
    "NaN",
    "daily",
    "weekly",
    "2026-01-01",
    "20260101",
    "2026-W01-1",
    "9999-12-31",
    "0001-01-01",
    "2026-02-30",
    "a@b.test",
    "x" * 300,
    *QUEUE_NAMES,
]
RAW_NUMBERS = ["1e999", "-1e999", "NaN", "Infinity", "-Infinity", "1.5e-400", "-0", "1E400"]

characters = st.characters() | st.characters(categories=["Cs"]) | st.sampled_from("\x00\u0130\u212a\ufeff\u2028")
texts = (
    st.text(characters, max_size=20)
    | st.sampled_from(SPECIAL_STRINGS)
    | st.integers(min_value=4000, max_value=6000).map(lambda digits: "9" * digits)
)
numbers = (
    st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.integers(min_value=4000, max_value=6000).map(lambda digits: RawJSON("9" * digits))
    | st.sampled_from(RAW_NUMBERS).map(RawJSON)
)
scalars = st.none() | st.booleans() | numbers | texts
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(texts, children, max_size=4),
    max_leaves=12,
)
deep_nesting = st.sampled_from([30, 200, 999, 1001, 5000, 100_000]).map(lambda n: RawJSON("[" * n + "]" * n))
anything = json_values | deep_nesting

dates = st.dates().map(lambda day: day.isoformat()) | texts
claim_ids = st.integers(min_value=-5, max_value=2**64) | st.integers(min_value=1, max_value=10**30).map(str)
# Ids of rows that exist (the first few of each table) as often as ids that do not.
record_ids = st.integers(min_value=1, max_value=3) | claim_ids
FIELDS = {
    "/api/doctors": {"name": texts, "email": st.emails() | texts, "specialty": texts},
    "/api/reports": {"kind": st.sampled_from(["daily", "weekly"]) | texts, "date": dates},
    "/api/workflows/doctor-statistics": {"date": dates},
    "/api/claims/bulk": {
        "claim_ids": st.lists(claim_ids, min_size=1, max_size=5) | st.lists(claim_ids | anything, max_size=5)
    },
    "/api/tasks/long-running": {
        "total": st.integers(min_value=-2, max_value=2000) | numbers,
        "step_seconds": st.floats(min_value=-1, max_value=11) | numbers,
    },
    "/api/patients": {"name": texts, "email": st.emails() | texts, "phone": texts, "date_of_birth": dates},
    "/api/appointments": {
        "doctor": record_ids,
        "patient": record_ids,
        "scheduled_at": st.datetimes().map(lambda moment: moment.isoformat()) | texts,
        "reason": texts,
    },
    "/api/appointments/reminders": {"appointment_ids": st.lists(record_ids, max_size=5)},
    "/api/medical-reports": {"patient": record_ids, "doctor": record_ids, "title": texts, "content": texts},
    "/api/claims": {
        "patient": record_ids,
        "appointment": record_ids,
        "amount": st.decimals(allow_nan=True).map(str) | numbers | texts,
        "description": texts,
    },
}


def bodies(url: str):
    shaped = st.fixed_dictionaries({}, optional={name: value | anything for name, value in FIELDS[url].items()})
    return shaped | anything


def dump(value) -> str:
    """JSON text with raw (unescaped) non-ASCII, so lone surrogates reach the server as bytes."""
    if isinstance(value, RawJSON):
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{dump(str(key))}: {dump(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(dump(item) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def send(api, url: str, value, ascii_only: bool):
    text = json.dumps(json.loads(dump(value))) if ascii_only and _reparsable(value) else dump(value)
    return api.client.post(url, data=text.encode("utf-8", "surrogatepass"), content_type="application/json")


def _reparsable(value) -> bool:
    """Whether the body can go through json.loads/json.dumps here to be sent \\u-escaped."""
    try:
        json.dumps(json.loads(dump(value)))
    except (ValueError, RecursionError):
        return False
    return True


def assert_2xx_or_4xx_with_a_message(response) -> None:
    status = response.status_code
    event(f"HTTP {status}")  # pytest --hypothesis-show-statistics: how many got past validation
    assert status < 500, f"{status}: {response.content[:300]!r}"
    assert 200 <= status < 300 or 400 <= status < 500, status
    if status >= 400:
        body = response.json()
        assert isinstance(body.get("error"), str), body
        assert body["error"].strip(), body


@pytest.fixture(scope="module", autouse=True)
def leave_no_trace():
    models = (Doctor, Patient, Appointment, MedicalReport, Claim)
    last = {model: model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0 for model in models}
    yield
    celery_app.control.purge()  # accepted bodies queued real tasks; no worker here runs them
    for model in reversed(models):
        model.objects.filter(pk__gt=last[model]).delete()


@pytest.mark.parametrize("url", list(FIELDS))
@FUZZ
@given(data=st.data(), ascii_only=st.booleans())
def test_any_json_posted_to_an_endpoint_gets_a_2xx_or_a_4xx_with_a_message(api, url, data, ascii_only):
    value = data.draw(bodies(url), label="body")
    assert_2xx_or_4xx_with_a_message(send(api, url, value, ascii_only))


PATH_ENDPOINTS = [
    ("GET", "/api/doctors/{}"),
    ("GET", "/api/appointments/{}"),
    ("GET", "/api/claims/{}"),
    ("POST", "/api/medical-reports/{}/process"),
    ("POST", "/api/queues/{}/ping"),
    ("GET", "/api/tasks/{}"),
    ("GET", "/api/tasks/{}/progress"),
]
segments = (
    st.text(characters, min_size=1, max_size=30).filter(lambda s: "/" not in s)
    | st.sampled_from([s for s in SPECIAL_STRINGS if s and "/" not in s])
    | st.integers(min_value=10, max_value=6000).map(lambda digits: "9" * digits)
)


@pytest.mark.parametrize(("method", "template"), PATH_ENDPOINTS)
@FUZZ
@given(segment=segments, value=json_values)
def test_any_path_parameter_gets_a_2xx_or_a_4xx_with_a_message(api, method, template, segment, value):
    url = template.format(quote(segment.encode("utf-8", "surrogatepass"), safe=""))
    response = send(api, url, value, ascii_only=False) if method == "POST" else api.get(url)
    assert_2xx_or_4xx_with_a_message(response)

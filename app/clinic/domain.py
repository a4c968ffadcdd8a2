"""The clinic's rules, as plain functions of plain values: what the tasks decide, testable without
a broker, a worker or a database."""

from __future__ import annotations

import json
import math
from decimal import Decimal

# Reference ranges used to flag lab values (unit as documented for each test).
REFERENCE_RANGES = {
    "glucose": (3.9, 7.8),  # mmol/L
    "systolic": (90, 140),  # mmHg
    "diastolic": (60, 90),  # mmHg
    "heart_rate": (50, 100),  # bpm
    "hemoglobin": (12.0, 17.5),  # g/dL
    "cholesterol": (0, 5.2),  # mmol/L
}


class ReportSourceNotReady(Exception):
    """The lab file a report refers to has not arrived yet: try again later."""


class ReportInvalid(Exception):
    """The report content cannot be processed: retrying will not help."""


def unique_keys(pairs: list, duplicate) -> dict:
    """A json.loads object_pairs_hook: json.loads keeps the last of two equal keys without a word
    ({"glucose": 5, "glucose": 9} would read 9 although 5 came first); this raises
    duplicate(key) instead. The API's body parser uses it too."""
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise duplicate(key)
        seen[key] = value
    return seen


def _one_value_per_test(pairs: list) -> dict:
    return unique_keys(pairs, lambda name: ReportInvalid(f"test {name[:40]!r} is given twice"))


def parse_lab_values(text: str) -> dict[str, float]:
    """A report's content: a non-empty JSON object of test name to number, or ReportInvalid."""
    if not text:
        raise ReportInvalid("report has neither content nor a source file")
    try:
        data = json.loads(text, object_pairs_hook=_one_value_per_test)
    # ValueError: an integer past Python's digit limit; RecursionError: nesting past the stack.
    except (ValueError, RecursionError) as exc:
        raise ReportInvalid(f"report content is not JSON: {str(exc)[:200]}") from exc
    if not isinstance(data, dict) or not data:
        raise ReportInvalid("report content must be a non-empty JSON object of test name to value")
    values = {}
    for name, value in data.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ReportInvalid(f"value of {name!r} is not a number")
        # NaN, Infinity and 1e999 parse in Python; PostgreSQL's jsonb and strict JSON do not.
        try:
            finite = math.isfinite(value)
        except OverflowError:  # an integer beyond any float
            finite = False
        if not finite:
            raise ReportInvalid(f"value of {name!r} is not a finite number")
        values[str(name)] = value
    return values


def summarize_lab_values(values: dict[str, float]) -> dict:
    """Which values are outside their reference range, and the report's verdict."""
    abnormal = {}
    for name, value in values.items():
        low, high = REFERENCE_RANGES.get(name, (None, None))
        if low is not None and not (low <= value <= high):
            abnormal[name] = {"value": value, "low": low, "high": high}
    return {
        "values": values,
        "abnormal": abnormal,
        "unknown_tests": sorted(set(values) - set(REFERENCE_RANGES)),
        "status": "attention" if abnormal else "normal",
    }


def decide_claim(amount: Decimal, auto_approve_limit: Decimal) -> tuple[str, str]:
    """A submitted claim's decision and its reason: approved up to the limit, else rejected."""
    if amount <= 0:
        return "rejected", "amount must be positive"
    if amount > auto_approve_limit:
        return "rejected", f"above auto-approval limit {auto_approve_limit}"
    return "approved", "within auto-approval limit"


def weekly_report_text(report) -> str:
    """A weekly GeneratedReport as the admins read it in their mail."""
    data = report.data
    lines = [
        f"Clinic report for {report.period_start} to {report.period_end}",
        "",
        f"Appointments: {data['appointments']['total']}",
        *(f"  {status}: {count}" for status, count in sorted(data["appointments"]["by_status"].items())),
        f"New patients: {data['new_patients']}",
        f"Medical reports completed: {data['reports_completed']}",
        "Claims:",
        *(f"  {status}: {row['count']} ({row['amount']})" for status, row in sorted(data["claims"].items())),
        "Appointments per doctor:",
        *(f"  {name}: {count}" for name, count in sorted(data["appointments_per_doctor"].items())),
    ]
    return "\n".join(lines) + "\n"

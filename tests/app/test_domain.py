"""The clinic's rules as plain functions: no broker, worker or database."""

from __future__ import annotations

from decimal import Decimal

import pytest

from clinic.domain import ReportInvalid, decide_claim, parse_lab_values, summarize_lab_values


@pytest.mark.parametrize(
    ("amount", "decision"),
    [("0", "rejected"), ("-1", "rejected"), ("0.01", "approved"), ("5000", "approved"), ("5000.01", "rejected")],
)
def test_a_claim_is_approved_up_to_the_limit_and_rejected_beyond_or_at_zero(amount, decision):
    status, reason = decide_claim(Decimal(amount), Decimal("5000"))
    assert status == decision and reason


def test_values_outside_their_reference_range_are_flagged_and_unknown_tests_listed():
    summary = summarize_lab_values({"glucose": 9.1, "systolic": 120, "vitamin_q": 3})
    assert summary["abnormal"] == {"glucose": {"value": 9.1, "low": 3.9, "high": 7.8}}
    assert summary["unknown_tests"] == ["vitamin_q"] and summary["status"] == "attention"
    assert summarize_lab_values({"glucose": 5.0})["status"] == "normal"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "neither content nor a source file"),
        ("{oops", "not JSON"),
        ("[]", "non-empty JSON object"),
        ('{"glucose": true}', "'glucose' is not a number"),
        ('{"glucose": "5"}', "'glucose' is not a number"),
        # Python's json reads these; PostgreSQL's jsonb and a strict JSON renderer refuse them.
        ('{"glucose": NaN}', "'glucose' is not a finite number"),
        ('{"glucose": Infinity}', "'glucose' is not a finite number"),
        ('{"glucose": 1e999}', "'glucose' is not a finite number"),
        ('{"glucose": 1' + "0" * 400 + "}", "'glucose' is not a finite number"),
        ('{"glucose": ' + "9" * 5000 + "}", "not JSON"),
        ("[" * 100_000 + "]" * 100_000, "not JSON"),
        # json.loads would keep the second value without a word.
        ('{"glucose": 5, "glucose": 9}', "'glucose' is given twice"),
    ],
)
def test_report_content_that_cannot_be_read_is_invalid_naming_why(text, message):
    with pytest.raises(ReportInvalid, match=message):
        parse_lab_values(text)

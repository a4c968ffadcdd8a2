"""What every API input goes through before a serializer sees it: one strict JSON parser and
the checks behind the API's fields. Bad input ends here as a 400 with a message naming the
field, instead of a 500 or a failed task.

DRF's JSONParser is json.loads: it keeps the last of two equal keys, turns a 5000-digit
integer into a ValueError deep in int(), lets NaN through and leaves NUL characters for
PostgreSQL to refuse at INSERT. No maintained parser does these checks, so they are here.
"""

from __future__ import annotations

import json
import math
import re
from collections import deque
from datetime import date

from django.conf import settings
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser

from ..domain import unique_keys


class BadRequest(APIException):
    """A 400 whose message names the field and what is wrong with it."""

    status_code = 400
    default_code = "bad_request"


# --- Input -----------------------------------------------------------------------------
# One parser for every body (read_json), one check for every string (check_text),
# bounded numbers and strict dates: what a view gets can be stored, queued and
# computed with, so bad input ends here as a 400 instead of a 500 or a failed task.

MAX_DEPTH = 32  # no endpoint takes more than a list of ids
MAX_INT = 2**63 - 1  # the widest integer column; JSON integers beyond it are refused
# The range the report tasks compute with: they step a day or a week past the date
# and turn local midnight into UTC, so the ends of date's own range would overflow.
MIN_DATE = date(1900, 1, 1)
MAX_DATE = date(2999, 12, 31)

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DIGITS = re.compile(r"[0-9]+")


class _Refused:
    """A number JSON can hold but no field takes; read_json names the field it sat in."""

    def __init__(self, reason: str):
        self.reason = reason


def _parse_int(text: str):
    digits = len(text.lstrip("-"))
    if digits > len(str(MAX_INT)) or abs(int(text)) > MAX_INT:
        return _Refused(f"an integer too large ({digits} digits; at most {MAX_INT})")
    return int(text)


def _parse_float(text: str):
    value = float(text)
    return value if math.isfinite(value) else _Refused(f"a number too large ({_show(text)})")


def _parse_constant(name: str):
    return _Refused(f"{name}, which is not a number JSON allows")


def _show(value, limit: int = 60) -> str:
    """repr() for a message, cut short: the value may be megabytes long."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def check_text(value: str, where: str) -> str:
    """Refuse what no database stores alike: NUL (PostgreSQL refuses it) and lone surrogates (not UTF-8)."""
    bad = _UNSTORABLE.search(value)
    if bad is None:
        return value
    if bad.group() == "\x00":
        raise BadRequest(f"{where} contains a NUL character")
    raise BadRequest(f"{where} contains a lone surrogate (U+{ord(bad.group()):04X}), which is not valid text")


def _check_tree(data) -> None:
    """Walk the parsed body once: depth, numbers and every string (keys too), naming where."""
    queue = deque([(None, data, 0)])
    while queue:
        where, value, depth = queue.popleft()
        name = where or "request body"
        if isinstance(value, _Refused):
            raise BadRequest(f"{name} is {value.reason}")
        if isinstance(value, str):
            check_text(value, name)
        elif isinstance(value, (dict, list)):
            if depth >= MAX_DEPTH:
                raise BadRequest(f"{name} is nested deeper than {MAX_DEPTH} levels")
            if isinstance(value, dict):
                for key, item in value.items():
                    check_text(key, f"a key in {name}")
                    label = key if len(key) <= 40 else f"{key[:40]}..."
                    queue.append((f"{where}.{label}" if where else label, item, depth + 1))
            else:
                queue.extend((f"{name}[{index}]", item, depth + 1) for index, item in enumerate(value))


def _refuse_duplicate_keys(pairs: list) -> dict:
    # {"kind": "daily", "kind": "weekly"} would run the weekly report although the client wrote
    # daily first.
    return unique_keys(pairs, lambda key: BadRequest(f"field {_show(key)} is given twice"))


def loads(body: bytes):
    """The body as JSON whose every value can be stored and queued, or BadRequest."""
    try:
        data = json.loads(
            body,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
            object_pairs_hook=_refuse_duplicate_keys,
        )
    except RecursionError:
        raise BadRequest(f"request body is nested too deeply (at most {MAX_DEPTH} levels)") from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise BadRequest(f"request body is not valid JSON: {exc}") from exc
    _check_tree(data)
    if not isinstance(data, dict):
        raise BadRequest("request body must be a JSON object")
    return data


class StrictJSONParser(JSONParser):
    """DRF's parser for application/json, with loads()'s checks."""

    def parse(self, stream, media_type=None, parser_context=None):
        # DRF reads the request as a stream, past Django's own size check on request.body.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        body = stream.read(limit + 1) if limit is not None else stream.read()
        if limit is not None and len(body) > limit:
            raise ParseError(f"request body is too large (at most {limit} bytes)")
        if not body:
            raise ParseError("request body must be a JSON object")
        try:
            return loads(body)
        except BadRequest as exc:
            raise ParseError(exc.detail) from None


def require_text(data: dict, field: str, max_length: int, required: bool = True) -> str:
    value = data.get(field, "")
    if not isinstance(value, str):
        raise BadRequest(f"{field} must be a string")
    value = check_text(value, field).strip()
    if required and not value:
        raise BadRequest(f"{field} is required")
    if len(value) > max_length:
        raise BadRequest(f"{field} is longer than {max_length} characters")
    return value


def require_int(value, field: str, minimum: int = 1, maximum: int = 2**31 - 1) -> int:
    """An int, or a string of ASCII digits, within [minimum, maximum]."""
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        if len(value.lstrip("0")) > len(str(maximum)):
            raise BadRequest(f"{field} must be between {minimum} and {maximum}, got {_show(value)}")
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{field} must be an integer, got {_show(value)}")
    if not minimum <= value <= maximum:
        raise BadRequest(f"{field} must be between {minimum} and {maximum}, got {_show(value)}")
    return value


def parse_date(value, field: str) -> str:
    """A date written as YYYY-MM-DD, between MIN_DATE and MAX_DATE."""
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise BadRequest(f"{field} must be a date as YYYY-MM-DD, got {_show(value)}")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{field}={value!r} is not a valid date (YYYY-MM-DD)") from None
    if not MIN_DATE <= day <= MAX_DATE:
        raise BadRequest(f"{field} must be between {MIN_DATE} and {MAX_DATE}, got {value}")
    return day.isoformat()

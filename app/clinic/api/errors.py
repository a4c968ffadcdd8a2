"""Every error the API answers is JSON with one "error" message a person can act on; a
validation error also carries DRF's per-field "errors"."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework.exceptions import (
    AuthenticationFailed,
    MethodNotAllowed,
    NotAuthenticated,
    ParseError,
    ValidationError,
)
from rest_framework.views import exception_handler


def first_message(detail, field: str = "") -> str:
    """The first message in DRF's detail (a str, list or dict of them), naming its field."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            return first_message(value, "" if key == "non_field_errors" else str(key))
        return "invalid input"
    if isinstance(detail, list):
        return first_message(detail[0], field) if detail else "invalid input"
    message = str(detail)
    # Our fields' messages start with the field's name; DRF's own ("A valid number is required.") do not.
    if field and not message.startswith(field):
        return f"{field}: {message}"
    return message


def handle(exc, context):
    if isinstance(exc, RequestDataTooBig):  # Django's own check, where DRF reads request.body
        exc = ParseError(f"request body is too large (at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes)")
    response = exception_handler(exc, context)
    if response is None:
        return None  # not an API error: Django's 500 (and its logging)
    if isinstance(exc, MethodNotAllowed):
        view = context.get("view")
        allowed = ", ".join(view.allowed_methods) if view is not None else ""
        response.data = {"error": f"method {exc.args[0] if exc.args else ''} not allowed; use {allowed}"}
        return response
    if isinstance(exc, (NotAuthenticated, AuthenticationFailed)):
        body = {"error": "missing or wrong API token"}
    elif isinstance(exc, ValidationError):
        body = {"error": first_message(exc.detail)}
        if isinstance(exc.detail, dict):
            body["errors"] = exc.detail
    else:  # DRF's {"detail": ...}, also for Django's Http404 and PermissionDenied
        body = {"error": first_message(response.data.get("detail", response.data))}
    response.data = body
    return response

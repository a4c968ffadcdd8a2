"""The bearer token every API client sends (no cookies, so no CSRF)."""

from __future__ import annotations

import hmac

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission


class ApiClient:
    """Who sent a request with the right token: a client, not a Django user."""

    is_authenticated = True
    is_anonymous = False

    def __str__(self) -> str:
        return "api-token"


class BearerTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer <API_TOKEN>`. Compared in constant time; a wrong token is a 401."""

    keyword = "Bearer"

    def authenticate(self, request):
        supplied = request.headers.get("Authorization", "")
        if not supplied or not settings.API_TOKEN:
            return None  # anonymous: TokenRequired decides
        # RFC 9110 section 11.1: the scheme is case-insensitive (curl users write "bearer"); the
        # token is compared exactly, in constant time.
        scheme, _, token = supplied.partition(" ")
        if scheme.lower() != self.keyword.lower() or not hmac.compare_digest(
            token.lstrip(" ").encode(), settings.API_TOKEN.encode()
        ):
            raise AuthenticationFailed("missing or wrong API token")
        return ApiClient(), supplied

    def authenticate_header(self, request):
        # Makes a refused request a 401 (with this challenge) rather than a 403.
        return f'{self.keyword} realm="api"'


class TokenRequired(BasePermission):
    """With API_TOKEN set, only its holder; without it (development), anyone, throttled."""

    message = "missing or wrong API token"

    def has_permission(self, request, view):
        return not settings.API_TOKEN or bool(request.user and request.user.is_authenticated)


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema (and Swagger UI's Authorize button) describes the token."""

    target_class = BearerTokenAuthentication
    name = "bearerToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "the deployment's API_TOKEN"}

"""How storefronts authenticate: a source's API key, as Segment SDKs send it or as a Bearer."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from customers import apikeys
from customers.models import ApiKey


def key_from_header(header: bytes) -> str | None:
    """The key in ``Authorization: Basic base64(key:)`` or ``Authorization: Bearer key``."""
    scheme, _, value = header.partition(b" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == b"bearer" and value:
        return value.decode("latin-1")
    if scheme == b"basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[0]  # the write key is the user name, the password empty
    return None


class SourceKeyAuthentication(BaseAuthentication):
    """``request.auth`` becomes the ApiKey (with its source); the user stays anonymous."""

    def authenticate(self, request: Request) -> tuple[AnonymousUser, ApiKey] | None:
        header = get_authorization_header(request)
        if not header:
            return None
        raw = key_from_header(header)
        key = apikeys.authenticate(raw) if raw else None
        if key is None:
            raise exceptions.AuthenticationFailed("The API key is missing, wrong or revoked.")
        return AnonymousUser(), key

    def authenticate_header(self, request: Request) -> str:
        return 'Basic realm="api"'


class HasScope(BasePermission):
    """Allow a request whose API key carries ``scope`` (set by ``scoped(...)``)."""

    scope = ""
    message = "This API key may not do that."

    def has_permission(self, request: Request, view: Any) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            raise exceptions.NotAuthenticated("Send a source's API key (Basic or Bearer).")
        if self.scope not in key.scopes:
            self.message = f"This API key lacks the '{self.scope}' scope."
            return False
        return True


def scoped(scope: str) -> type[HasScope]:
    return type(f"Has{scope.title()}Scope", (HasScope,), {"scope": scope})


class SourceRateThrottle(SimpleRateThrottle):
    """Requests per minute per source, from the source's own ``rate_limit`` (0: unlimited)."""

    scope = "source"

    def get_rate(self) -> str | None:
        return None  # decided per request in allow_request

    def allow_request(self, request: Request, view: Any) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey) or not key.source.rate_limit:
            return True
        self.num_requests, self.duration = key.source.rate_limit, 60
        self.rate = f"{key.source.rate_limit}/m"
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": request.auth.source_id}


class SourceKeyScheme(OpenApiAuthenticationExtension):
    """The OpenAPI description of ``SourceKeyAuthentication``: the key as Basic user name (what
    Segment SDKs send) or as a Bearer token."""

    target_class = SourceKeyAuthentication
    name = ["sourceKeyBasic", "sourceKeyBearer"]

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, str]]:
        return [
            {"type": "http", "scheme": "basic", "description": "API key as user name, no password"},
            {"type": "http", "scheme": "bearer", "description": "API key as Bearer token"},
        ]

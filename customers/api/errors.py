"""Every API error is JSON ``{"code": ..., "message": ...}`` (plus ``errors`` for field detail)."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import DisallowedHost, PermissionDenied, RequestDataTooBig
from django.db import DataError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from customers.errors import DomainError

logger = logging.getLogger(__name__)


class ApiError(exceptions.APIException):
    """An error with our own code and status, raised from views."""

    def __init__(self, code: str, message: str, *, status_code: int = 400) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.error_code = code


CODES = {
    exceptions.ParseError: "invalid_json",
    exceptions.AuthenticationFailed: "unauthorized",
    exceptions.NotAuthenticated: "unauthorized",
    exceptions.PermissionDenied: "forbidden",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
    exceptions.ValidationError: "invalid",
}


def _message(detail: Any) -> str:
    if isinstance(detail, list) and detail:
        return _message(detail[0])
    if isinstance(detail, dict) and detail:
        field, value = next(iter(detail.items()))
        return f"{field}: {_message(value)}"
    return str(detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, OperationalError):
        # The database is overloaded or a deadlock outlived its retries: nothing was applied,
        # and the client's retry (same messageIds) is safe.
        logger.warning("api.database_busy", exc_info=exc)
        return Response(
            {"code": "busy", "message": "The server is busy; retry after Retry-After seconds."},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "2"},
        )
    if isinstance(exc, DataError):
        # A value the database refuses (a NUL character, a number out of range) that no
        # validation caught first: the client's input, not our failure; nothing was applied.
        logger.warning("api.invalid_value", exc_info=exc)
        return Response(
            {"code": "invalid_value", "message": "A value in the request cannot be stored."},
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, RequestDataTooBig):
        # DRF reads request.body, which stops at DATA_UPLOAD_MAX_MEMORY_SIZE.
        return Response(
            {"code": "payload_too_large", "message": "The body is too large."},
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, DomainError):
        return Response({"code": exc.code, "message": exc.message}, status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    code = getattr(exc, "error_code", None) or CODES.get(type(exc)) or "error"
    body: dict[str, Any] = {"code": code, "message": _message(exc.detail)}
    if isinstance(exc, exceptions.ValidationError) and isinstance(exc.detail, dict):
        body["errors"] = exc.detail
    if isinstance(exc, exceptions.Throttled):
        body["message"] = "Too many requests; retry after the number of seconds in Retry-After."
    response.data = body
    if response.status_code == status.HTTP_401_UNAUTHORIZED:
        response["WWW-Authenticate"] = 'Basic realm="api"'
    return response


def not_found(request: Any, *args: Any, **kwargs: Any) -> Any:
    """JSON 404 for any path under the APIs that names no endpoint (never an HTML page)."""
    return JsonResponse({"code": "not_found", "message": "No such endpoint."}, status=404)


# Paths machines call: Django's own error pages (raised before any view, e.g. by the host check
# in CommonMiddleware) answer them in JSON too. config/urls.py names these handlers.
MACHINE_PATHS = ("/api/", "/ingest/", "/hooks/")


def _for_machines(request: HttpRequest) -> bool:
    return request.path.startswith(MACHINE_PATHS)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _for_machines(request):
        if isinstance(exception, DisallowedHost):
            body = {"code": "bad_host", "message": "The Host header names no host served here."}
        else:
            body = {"code": "bad_request", "message": "The request is malformed."}
        return JsonResponse(body, status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _for_machines(request):
        return JsonResponse({"code": "forbidden", "message": "Not allowed."}, status=403)
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _for_machines(request):
        return not_found(request)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _for_machines(request):
        return JsonResponse(
            {"code": "server_error", "message": "Something failed on our side; it is logged."},
            status=500,
        )
    return defaults.server_error(request)

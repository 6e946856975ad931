"""/healthz (liveness), /readyz (readiness) and /metrics (Prometheus). Answered by
``ops.middleware.OpsEndpointsMiddleware`` ahead of the host check, the HTTPS redirect, sessions
and sign-in, so a load balancer or Prometheus reaches them by IP over plain HTTP."""

from __future__ import annotations

import hmac
import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from ops import checks, metrics

logger = logging.getLogger(__name__)

_PROBE_METHODS = ("GET", "HEAD")


def _error(code: str, message: str, http_status: int, **extra: object) -> JsonResponse:
    return JsonResponse({"code": code, "message": message, **extra}, status=http_status)


def _method_not_allowed() -> JsonResponse:
    response = _error("method_not_allowed", _("Use GET."), 405)
    response["Allow"] = ", ".join(_PROBE_METHODS)
    return response


@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """The process answers: no database, no broker, nothing else."""
    if request.method not in _PROBE_METHODS:
        return _method_not_allowed()
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request: HttpRequest) -> HttpResponse:
    """200 when the database, the broker and beat's heartbeat are all fine; 503 naming each
    failing check otherwise. ``?skip=heartbeat`` (comma-separated) leaves checks out, e.g. for
    a load balancer that should keep serving while beat is down."""
    if request.method not in _PROBE_METHODS:
        return _method_not_allowed()
    skip = {name.strip() for name in request.GET.get("skip", "").split(",") if name.strip()}
    unknown = sorted(skip - set(checks.CHECKS))
    if unknown:
        return _error(
            "unknown_check",
            _("Unknown check(s): %(names)s. Known: %(known)s.")
            % {"names": ", ".join(unknown), "known": ", ".join(checks.CHECKS)},
            400,
        )
    results = checks.run([name for name in checks.CHECKS if name not in skip])
    failing = [name for name, result in results.items() if not result["ok"]]
    if not failing:
        return JsonResponse({"status": "ok", "checks": results})
    logger.warning(
        "readyz: not ready: %s",
        ", ".join(f"{name} ({results[name]['code']})" for name in failing),
    )
    response = _error(
        "not_ready",
        _("Not ready: %(names)s.") % {"names": ", ".join(failing)},
        503,
        status="unavailable",
        failing=failing,
        checks=results,
    )
    response._has_been_logged = True  # type: ignore[attr-defined]  # above, as a warning
    return response


@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text format, for ``Authorization: Bearer <METRICS_TOKEN>`` only; no session
    or API key opens it. Off (404) until METRICS_TOKEN is set."""
    token = settings.METRICS_TOKEN
    if not token:
        return _error(
            "metrics_disabled", _("Metrics are off: set METRICS_TOKEN to turn them on."), 404
        )
    if request.method not in _PROBE_METHODS:
        return _method_not_allowed()
    scheme, _sep, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        response = _error(
            "unauthorized", _("Send the metrics token: Authorization: Bearer <token>."), 401
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(metrics.render(), content_type=metrics.CONTENT_TYPE)

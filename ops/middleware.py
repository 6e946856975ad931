"""Request context (request id, logs, HTTP metrics) and the operations endpoints."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import resolve, reverse
from django.utils.log import log_response

from ops import logs, metrics

REQUEST_ID_HEADER = "X-Request-ID"


class RequestContextMiddleware:
    """First in MIDDLEWARE. Takes the client's ``X-Request-ID`` when sane or makes one, binds it
    (and the customer a URL names) for the request's log lines, returns it in the response
    header, and counts and times the request for /metrics."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        request_id = logs.request_id_from(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id  # type: ignore[attr-defined]
        token = logs.open_context(request_id=request_id)
        try:
            response = self.get_response(request)
            if response.status_code >= 400:
                # What Django's handler would log after the middleware, logged here while the
                # request id is bound (Django then sees it logged and says nothing more).
                log_response(
                    "%s: %s",
                    response.reason_phrase,
                    request.path,
                    response=response,
                    request=request,
                )
        finally:
            logs.close_context(token)
        response[REQUEST_ID_HEADER] = request_id
        metrics.observe_request(request, response, time.perf_counter() - started)
        return response

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> None:  # type: ignore[no-untyped-def]
        # The API names its customer by public id; the admin's customer pages by database id.
        match = request.resolver_match
        if match is None:
            return
        if "public_id" in view_kwargs and match.namespace == "api":
            logs.bind(customer_id=str(view_kwargs["public_id"]))
        elif "object_id" in view_kwargs and (match.url_name or "").startswith(
            "customers_customer_"
        ):
            logs.bind(customer_id=str(view_kwargs["object_id"]))
        return


class OpsEndpointsMiddleware:
    """Right after RequestContextMiddleware: answers /healthz, /readyz and /metrics itself,
    before the host check (a probe comes by IP), the HTTPS redirect (a load balancer probes
    over HTTP), sessions, CSRF, two-factor and lockout. The URLs stay in config/urls.py (one
    place names them); this only runs their views early."""

    NAMES = ("healthz", "readyz", "metrics")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._paths: frozenset[str] | None = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._paths is None:
            self._paths = frozenset(reverse(name) for name in self.NAMES)
        if request.path_info not in self._paths:
            return self.get_response(request)
        match = resolve(request.path_info)
        request.resolver_match = match
        return match.func(request, *match.args, **match.kwargs)

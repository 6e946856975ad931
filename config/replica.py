"""Which requests read from the read replica: the staff pages that only report.

With ``DATABASE_REPLICA_URL`` set, a GET or HEAD of one of these pages reads its rows from the
replica (config/routers.py says which reads still go to the primary):

* every admin list page (``admin:<app>_<model>_changelist``), the search and filters included;
  a POST to it (an admin action, an edit in the list) is a write and stays on the primary;
* ``REPLICA_VIEWS`` below: the insights dashboard and its CSV exports, and the downloads of
  the admin (a customer's data export, a segment's rules and its hashed audience).

Anything else (the customer page, change forms, the API, the tracking endpoints, the public
pages) reads the primary.

If the replica does not answer (down, unreachable, refusing connections), the page is made again
from the primary, and for ``DATABASE_REPLICA_RETRY_SECONDS`` (30) this process reads nothing
from the replica; a warning is logged each time. (A CSV being streamed when the replica fails
cannot start over: it ends with an error, and the next request reads the primary.)

A person who has just changed something sees it: any POST (PUT, PATCH, DELETE) by a browser
with a session sets a short-lived cookie, and while it lasts (``DATABASE_REPLICA_PIN_SECONDS``,
15 s by default) that person's pages read the primary, so the list they are sent back to after
"Save" already shows the change even if the replica is a second behind.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.conf import settings
from django.db import OperationalError, connections
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from config import routers

# Admin pages that only read, by URL name (namespace "admin"), besides every "..._changelist".
REPLICA_VIEWS = frozenset(
    {
        "insights_dashboard",  # the dashboard; its ?export=<figure> CSV downloads too
        "customers_customer_export",  # a customer's data as JSON (privacy export)
        "campaigns_segment_export",  # a segment's rules as JSON
        "campaigns_segment_audience",  # a segment's hashed emails and phones as CSV
    }
)
READ_METHODS = frozenset({"GET", "HEAD"})
PIN_COOKIE = "crm_primary"

logger = logging.getLogger(__name__)


def replica_safe(request: HttpRequest) -> bool:
    """Whether this request may read the replica (its URL already resolved)."""
    match = request.resolver_match
    if request.method not in READ_METHODS or match is None or "admin" not in match.namespaces:
        return False
    if PIN_COOKIE in request.COOKIES:
        return False  # wrote a moment ago: reads its own writes
    name = match.url_name or ""
    return name.endswith("_changelist") or name in REPLICA_VIEWS


def _in_scope(chunks: Iterable[Any]) -> Iterator[Any]:
    """A streamed body's chunks, each made with the replica allowed: the body is read after the
    view (and this middleware) returned."""
    iterator = iter(chunks)
    while True:
        with routers.read_from_replica():
            try:
                chunk = next(iterator)
            except StopIteration:
                return
        yield chunk


class ReplicaMiddleware:
    """Marks the replica-safe requests (see the module's docstring); a no-op without a
    replica."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not routers.replica_configured():
            return self.get_response(request)
        request._replica_scope = None  # type: ignore[attr-defined]
        try:
            response = self.get_response(request)
        finally:
            scope = request._replica_scope  # type: ignore[attr-defined]
            if scope is not None:
                scope.__exit__(None, None, None)
        if scope is not None and isinstance(response, StreamingHttpResponse):
            response.streaming_content = _in_scope(response.streaming_content)
        if request.method not in READ_METHODS and settings.SESSION_COOKIE_NAME in (
            request.COOKIES.keys() | response.cookies.keys()
        ):
            self._pin(response)
        return response

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> None:
        # Only under __call__ with a replica configured (it sets the attribute), once.
        if getattr(request, "_replica_scope", False) is None and replica_safe(request):
            scope = routers.read_from_replica()
            scope.__enter__()
            request._replica_scope = scope  # type: ignore[attr-defined]
            request._replica_view = (view, args, kwargs)  # type: ignore[attr-defined]

    def process_exception(self, request: HttpRequest, exception: Exception) -> Any:
        """A page reading the replica failed on the database: if the replica is what failed,
        make the page again from the primary (it only reads: GET or HEAD)."""
        scope = getattr(request, "_replica_scope", None)
        if scope is None or not isinstance(exception, OperationalError):
            return None
        replica = connections[routers.REPLICA]
        if replica.connection is not None and replica.is_usable():
            return None  # the replica answers: the primary, or the query, failed
        logger.warning(
            "replica.unreachable: %s read from the primary (retry in %s s): %s",
            request.path,
            settings.DATABASE_REPLICA_RETRY_SECONDS,
            exception,
        )
        routers.replica_failed()
        scope.__exit__(None, None, None)
        request._replica_scope = None  # type: ignore[attr-defined]
        view, args, kwargs = request._replica_view  # type: ignore[attr-defined]
        response = view(request, *args, **kwargs)
        render = getattr(response, "render", None)
        return render() if callable(render) else response

    def _pin(self, response: HttpResponse) -> None:
        response.set_cookie(
            PIN_COOKIE,
            "1",
            max_age=settings.DATABASE_REPLICA_PIN_SECONDS,
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
        )

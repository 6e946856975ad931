"""Cross-origin access to the tracking API, for storefronts that call it from the browser.

Only ``/ingest/`` is opened, and only to the origins in ``TRACKING_CORS_ORIGINS``: a preflight
from one of them is answered, and its requests get ``Access-Control-Allow-Origin`` back; any
other origin gets no CORS headers, so the browser keeps the answer from the page. The key a page
holds is public, so a request that carries an ``Origin`` must use a track-only key — enforced by
``channels.api.views.BrowserSafeKey`` — whatever origin it comes from.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import patch_vary_headers

PREFIX = "/ingest/"
ALLOWED_HEADERS = "Authorization, Content-Type, Content-Encoding"
PREFLIGHT_MAX_AGE = 600  # seconds a browser may reuse a preflight answer


def allowed_origin(origin: str) -> bool:
    """Whether ``origin`` (scheme://host[:port]) is one the tracking API answers to."""
    allowed = settings.TRACKING_CORS_ORIGINS
    return bool(origin) and ("*" in allowed or origin.rstrip("/") in allowed)


class TrackingCorsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(PREFIX):
            return self.get_response(request)
        origin = request.headers.get("Origin", "")
        preflight = request.method == "OPTIONS" and "Access-Control-Request-Method" in (
            request.headers
        )
        if preflight:
            if not allowed_origin(origin):
                return JsonResponse(
                    {
                        "code": "origin_not_allowed",
                        "message": f"{origin or 'This origin'} may not call the tracking API "
                        "from a browser; add it to TRACKING_CORS_ORIGINS.",
                    },
                    status=403,
                )
            response = HttpResponse(status=204)
            response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
            response["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
            response["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
        else:
            response = self.get_response(request)
        if allowed_origin(origin):
            response["Access-Control-Allow-Origin"] = origin
            response["Access-Control-Expose-Headers"] = "Retry-After"
        patch_vary_headers(response, ["Origin"])
        return response

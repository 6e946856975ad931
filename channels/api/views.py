"""The tracking API: Segment's HTTP Tracking API, served at /ingest/v1/<call>."""

from __future__ import annotations

import gzip
import zlib
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.parsers import BaseParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from channels import batch, tracking
from customers.api import parsers
from customers.api.auth import SourceKeyAuthentication, SourceRateThrottle, scoped
from customers.api.errors import ApiError
from customers.models import ApiKey

# The request body is read and decompressed here, with our limits, instead of by DRF's parsers.
MAX_COMPRESSED_BYTES = tracking.MAX_BATCH_BYTES + 64 * 1024


class RawParser(BaseParser):
    """Lets the view read the body itself (any content type storefront SDKs send)."""

    media_type = "*/*"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None):
        return None


def read_json(request: Request, *, limit: int) -> Any:
    """The JSON body, gunzipped when sent with Content-Encoding: gzip, at most ``limit`` bytes
    after decompression; ApiError 413 beyond it, 400 for broken gzip or JSON (not UTF-8, NaN or
    numbers beyond float, nesting deeper than any message)."""
    cap = max(limit, MAX_COMPRESSED_BYTES)
    too_large = ApiError(
        "payload_too_large", f"The body may be at most {limit} bytes.", status_code=413
    )
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0  # Django reads no body for a Content-Length it cannot parse either
    if declared > cap:
        raise too_large
    body = request._request.read(cap + 1)
    if len(body) > cap:
        raise too_large
    encoding = request.META.get("HTTP_CONTENT_ENCODING", "").strip().lower()
    if encoding == "gzip":
        body = _gunzip(body, limit=limit)
    elif encoding not in ("", "identity"):
        raise ApiError("unsupported_encoding", f"Content-Encoding {encoding!r} is not supported.")
    if len(body) > limit:
        raise too_large
    try:
        data = parsers.loads(body)
    except ValueError as error:
        raise ApiError("invalid_json", f"The body is not valid JSON: {error}") from error
    # A batch wraps its messages two levels down; each message is checked again on its own.
    if problem := parsers.json_problem(data, max_depth=tracking.MAX_DEPTH + 2, text=False):
        raise ApiError("invalid_json", problem)
    return data


def _gunzip(body: bytes, *, limit: int) -> bytes:
    # A decompressor with a cap: a gzip bomb stops at limit + 1 bytes, never fills memory. A
    # stream of several members (what `cat a.gz b.gz` makes) is read whole, under one cap.
    data = b""
    try:
        while True:
            decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
            data += decompressor.decompress(body, limit + 1 - len(data))
            if len(data) > limit:
                raise ApiError(
                    "payload_too_large",
                    f"The body may be at most {limit} bytes.",
                    status_code=413,
                )
            if not decompressor.eof:
                raise ApiError("invalid_gzip", "The gzip body is truncated.")
            body = decompressor.unused_data
            if not body.strip(b"\0"):
                return data
    except (zlib.error, gzip.BadGzipFile) as error:
        raise ApiError("invalid_gzip", "The body is not valid gzip.") from error


class BrowserSafeKey(BasePermission):
    """A request from a web page (it carries ``Origin``) shows its key to anyone who opens the
    page, so that key may only track: a key that can also read or write customers is refused
    here (and should be rotated), never accepted from a browser."""

    def has_permission(self, request: Request, view: Any) -> bool:
        key = request.auth
        if "Origin" in request.headers and isinstance(key, ApiKey) and set(key.scopes) != {"track"}:
            raise ApiError(
                "browser_key_scope",
                "A key used from a web page must carry only the 'track' scope; this one can do "
                "more. Create a track-only key for the storefront (and rotate this one).",
                status_code=403,
            )
        return True


class TrackingView(APIView):
    authentication_classes = [SourceKeyAuthentication]
    permission_classes = [scoped("track"), BrowserSafeKey]
    throttle_classes = [SourceRateThrottle]
    parser_classes = [RawParser]
    message_type = ""

    @extend_schema(
        request={"application/json": {"type": "object"}},
        responses={200: OpenApiResponse(description="Accepted (or a replayed messageId).")},
        tags=["tracking"],
    )
    def post(self, request: Request) -> Response:
        message = read_json(request, limit=tracking.MAX_MESSAGE_BYTES)
        if not isinstance(message, dict):
            raise ApiError("invalid_message", "The body must be a JSON object.")
        try:
            tracking.apply_message(
                message,
                source=request.auth.source,
                received_at=timezone.now(),
                type_=self.message_type,
            )
        except tracking.MessageError as error:
            raise ApiError(error.code, error.message) from error
        return Response({"success": True})


def _storable(rejection: dict[str, Any]) -> dict[str, Any]:
    # A rejected message's id is echoed back; an unpaired surrogate in it cannot be UTF-8.
    return {
        key: value.encode("utf-8", "replace").decode() if isinstance(value, str) else value
        for key, value in rejection.items()
    }


class BatchResponse(serializers.Serializer):
    success = serializers.BooleanField()
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = serializers.ListField(child=serializers.DictField())


class BatchView(TrackingView):
    @extend_schema(
        request={"application/json": {"type": "object"}},
        responses={200: BatchResponse},
        tags=["tracking"],
    )
    def post(self, request: Request) -> Response:
        payload = read_json(request, limit=tracking.MAX_BATCH_BYTES)
        messages = payload.get("batch") if isinstance(payload, dict) else None
        if not isinstance(messages, list):
            raise ApiError("invalid_batch", "The body must be an object with a 'batch' list.")
        if len(messages) > tracking.MAX_BATCH_MESSAGES:
            raise ApiError(
                "batch_too_large",
                f"A batch may hold at most {tracking.MAX_BATCH_MESSAGES} messages.",
                status_code=413,
            )
        try:
            sent_at = tracking._time(payload, "sentAt")
        except tracking.MessageError as error:
            raise ApiError(error.code, error.message) from error
        result = batch.apply_batch(messages, source=request.auth.source, sent_at=sent_at)
        return Response(
            {
                "success": True,
                "accepted": result.accepted,
                "duplicates": result.duplicates,
                "rejected": [_storable(r.as_json()) for r in result.rejected],
            }
        )

"""Provider webhooks: delivery receipts and inbound replies, per channel.

Every answer is JSON; an error is ``{"code", "message"}`` with a 4xx status, so a provider's
retry log says what was wrong, and no body a provider can send makes a 500. A provider proves
itself per channel either with our HMAC signature (channels/signing.py: ``X-CRM-Timestamp`` and
``X-CRM-Signature`` over the raw body) or, for providers that cannot sign (Twilio's callbacks
take a URL and nothing else), with the channel's shared secret in ``X-Webhook-Secret`` or
``?secret=``.
"""

from __future__ import annotations

import functools
import hmac
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured, RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt

from channels import inbound as replies
from channels import services, signing
from channels.models import Channel, Message
from customers.errors import DomainError
from security.crypto import DecryptionError

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
SECRET_HEADER = "X-Webhook-Secret"
# Twilio MessageStatus values that are not an outcome yet; "read" is handled on its own.
TWILIO_PENDING = frozenset(
    {"accepted", "scheduled", "queued", "sending", "sent", "receiving", "received"}
)
# Twilio error codes that mean the number cannot receive (unreachable, unknown, landline).
TWILIO_BOUNCE_CODES = frozenset({"30003", "30005", "30006"})
TWILIO_FAILED = frozenset({"undelivered", "failed", "canceled"})


class BadPayload(Exception):
    """The body is not something this webhook understands (answered 400)."""


def _error(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse({"code": code, "message": message}, status=status)


# --- Auth and parsing -------------------------------------------------------------------------


def _authenticate(
    request: HttpRequest, channel: Channel, secret: str, body: bytes
) -> JsonResponse | None:
    """None when the request proves it comes from this channel's provider (``secret`` is the
    channel's webhook secret, decrypted), else the 401."""
    timestamp = request.headers.get(signing.TIMESTAMP_HEADER)
    signature = request.headers.get(signing.SIGNATURE_HEADER)
    if timestamp is not None or signature is not None:
        # Whoever sends a signature must send a good one: a bad one is never excused by a
        # shared secret beside it.
        if signing.verify(secret, timestamp or "", signature or "", body):
            return None
        return _error("invalid_signature", "The signature or its timestamp is not valid.", 401)
    given = request.headers.get(SECRET_HEADER) or request.GET.get("secret") or ""
    # Bytes: compare_digest refuses non-ASCII str, and a forged header may hold some.
    if given and hmac.compare_digest(given.encode("utf-8", "replace"), secret.encode()):
        return None
    return _error(
        "unauthorized",
        f"Sign the body ({signing.SIGNATURE_HEADER}) or send the channel's webhook secret.",
        401,
    )


def _fields(request: HttpRequest, body: bytes) -> tuple[str, Mapping[str, Any]]:
    """("form", Twilio-style form fields) or ("json", the JSON object)."""
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        try:
            return "form", request.POST
        except MultiPartParserError as error:
            raise BadPayload("The form body cannot be parsed.") from error
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise BadPayload("The body is neither JSON nor a form.") from error
    if not isinstance(data, dict):
        raise BadPayload("The JSON body must be an object.")
    return "json", data


def _text(data: Mapping[str, Any], key: str, *, required: bool = False) -> str:
    """A string field (numbers accepted: some bridges send chat ids as numbers)."""
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise BadPayload(f"The field {key!r} is required.")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise BadPayload(f"The field {key!r} must be a string.")
    return str(value).strip()


WebhookView = Callable[[HttpRequest, Channel, bytes], HttpResponse]


def webhook(view: WebhookView) -> Callable[[HttpRequest, int], HttpResponse]:
    """POST only, CSRF-exempt (providers hold no cookie), authenticated per channel; turns
    every refusal into a JSON error."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request: HttpRequest, channel_id: int) -> HttpResponse:
        if request.method != "POST":
            response = _error("method_not_allowed", "Use POST.", 405)
            response["Allow"] = "POST"
            return response
        channel = Channel.objects.filter(pk=channel_id).first()
        if channel is None:
            return _error("unknown_channel", "No such channel.", 404)
        if not channel.webhook_secret:
            return _error(
                "webhooks_disabled", "This channel has no webhook secret; set one first.", 403
            )
        try:
            if int(request.META.get("CONTENT_LENGTH") or 0) > MAX_BODY_BYTES:
                raise RequestDataTooBig
            body = request.body
        except (RequestDataTooBig, ValueError):
            return _error(
                "payload_too_large", f"The body may be at most {MAX_BODY_BYTES} bytes.", 413
            )
        try:
            secret = channel.plain_webhook_secret()
        except (DecryptionError, ImproperlyConfigured):  # a key dropped too early, or none
            logger.error("channels.webhook_secret_undecryptable channel=%s", channel.pk)
            return _error(
                "secret_unavailable", "The channel's secret cannot be read; try again later.", 503
            )
        if refused := _authenticate(request, channel, secret, body):
            return refused
        try:
            return view(request, channel, body)
        except BadPayload as error:
            return _error("invalid_body", str(error), 400)
        except DomainError as error:
            return _error(error.code, error.message, error.status)

    return wrapper


# --- Delivery receipts ------------------------------------------------------------------------


@webhook
def status(request: HttpRequest, channel: Channel, body: bytes) -> HttpResponse:
    """A delivery receipt: ours as JSON {"id", "status", "reason"} or Twilio's form callback.
    Receipts never move a message backwards, so a late or repeated one is harmless."""
    shape, data = _fields(request, body)
    if shape == "form":
        provider_id = _text(data, "MessageSid") or _text(data, "SmsSid", required=True)
        raw = (_text(data, "MessageStatus") or _text(data, "SmsStatus", required=True)).lower()
        code = _text(data, "ErrorCode")
        if raw in TWILIO_PENDING:
            return JsonResponse({"ok": True, "ignored": True})
        if raw == "read":  # WhatsApp read receipt: the closest thing to an open
            message = Message.objects.filter(channel=channel, provider_id=provider_id).first()
            if message is None:
                return _error("unknown_message", "No message of this channel has that id.", 404)
            services.note_engagement(message, "opened")
            return JsonResponse({"ok": True, "status": "read"})
        if raw == "delivered":
            outcome, reason = "delivered", ""
        elif raw in TWILIO_FAILED:
            outcome = "bounced" if code in TWILIO_BOUNCE_CODES else "failed"
            reason = f"Twilio {raw}, error {code}" if code else f"Twilio {raw}"
        else:
            raise BadPayload(f"Unknown MessageStatus {raw!r}.")
    else:
        provider_id = _text(data, "id", required=True)
        outcome = _text(data, "status", required=True).lower()
        reason = _text(data, "reason")
        if outcome not in ("delivered", "failed", "bounced"):
            raise BadPayload("status must be delivered, failed or bounced.")
    if not services.record_receipt(channel, provider_id[:200], outcome, reason=reason[:300]):
        return _error("unknown_message", "No message of this channel has that id.", 404)
    return JsonResponse({"ok": True, "status": outcome})


@webhook
def inbound(request: HttpRequest, channel: Channel, body: bytes) -> HttpResponse:
    """A reply from a customer: ours as JSON {"from", "text", "id"} or Twilio's inbound form
    (From, Body, MessageSid). Answers {"ok", "opted_out", "duplicate"}."""
    shape, data = _fields(request, body)
    if shape == "form":
        sender = _text(data, "From", required=True)
        text = _text(data, "Body")
        provider_id = _text(data, "MessageSid") or _text(data, "SmsSid")
    else:
        sender = _text(data, "from", required=True)
        text = _text(data, "text")
        provider_id = _text(data, "id")
    if sender.lower().startswith("whatsapp:"):
        sender = sender[len("whatsapp:") :]
    result = replies.receive_reply(channel, sender=sender, text=text, provider_id=provider_id[:200])
    return JsonResponse(
        {"ok": True, "opted_out": result.opted_out, "duplicate": not result.created}
    )

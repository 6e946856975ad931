"""HMAC-SHA256 webhook signatures, shared by outbound webhooks and inbound provider webhooks.

The signed string is ``f"{timestamp}." + body``, so a captured request cannot be replayed with
another timestamp, and a stale one is refused by the tolerance window.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from django.utils import timezone

TIMESTAMP_HEADER = "X-CRM-Timestamp"
SIGNATURE_HEADER = "X-CRM-Signature"

_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # ASCII only: \d would match Persian digits too


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp`` (Unix seconds)."""
    return _signature(secret, str(timestamp), body)


def _signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify(
    secret: str,
    timestamp: str | int,
    signature: str,
    body: bytes,
    *,
    tolerance: int = 300,
    now: float | None = None,
) -> bool:
    """Whether ``signature`` is ours for ``body`` and ``timestamp`` is within ``tolerance``
    seconds of ``now``; never raises, whatever the headers hold."""
    if not secret or not signature or isinstance(timestamp, bool):
        return False
    # Only the plain digits sign() writes: the header is signed as received.
    timestamp = str(timestamp)
    if not _TIMESTAMP.fullmatch(timestamp):
        return False
    if now is None:
        now = timezone.now().timestamp()
    if abs(now - int(timestamp)) > tolerance:
        return False
    expected = _signature(secret, timestamp, body)
    # Bytes, because compare_digest refuses non-ASCII str (a forged header could hold some).
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))

"""The contract every delivery backend follows, like Django's email backends.

A backend is built with its ``Channel`` row (``channel.settings`` holds URLs, credentials,
templates; ``channel.sender`` the from-address or sender id) and sends one ``Outgoing`` at a time.
It returns the provider's id for the message, or raises:

* ``TransientError`` — worth retrying later (timeouts, connection refused, HTTP 5xx / 429, SMTP
  4xx): the delivery task retries with backoff;
* ``PermanentError`` — retrying cannot help (HTTP 4xx, SMTP 5xx, a bad setting): the message is
  marked failed with the error's text. ``bounced=True`` marks the address hard-bounced.

A backend never touches the database: the delivery task owns the message row.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from channels.models import Channel


@dataclass(frozen=True)
class Outgoing:
    """One message as the backend sees it, already rendered."""

    message_id: int
    kind: str  # email / sms / push / whatsapp / telegram / webhook
    to: str  # an email address, an E.164 phone, a push token, a chat id, a user id
    text: str
    subject: str = ""
    html: str = ""
    purpose: str = "transactional"
    # Absolute URLs for RFC 8058 one-click unsubscribe (email) — empty when not marketing.
    unsubscribe_url: str = ""
    unsubscribe_post_url: str = ""
    customer_public_id: str = ""
    locale: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


class DeliveryError(Exception):
    def __init__(self, message: str, *, bounced: bool = False) -> None:
        super().__init__(message)
        self.bounced = bounced


class TransientError(DeliveryError):
    """Try again later."""


class PermanentError(DeliveryError):
    """Do not try again."""


class Backend:
    """Base class: subclasses implement ``send``."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.settings: dict[str, Any] = dict(channel.settings or {})

    def send(self, message: Outgoing) -> str:
        """Hand the message over; return the provider's message id ("" when it has none)."""
        raise NotImplementedError

    def setting(self, name: str, default: Any = None, *, required: bool = False) -> Any:
        value = self.settings.get(name, default)
        if required and value in (None, ""):
            raise PermanentError(f"Channel {self.channel.name!r} has no {name!r} setting.")
        return value

    def scrub(self, text: str) -> str:
        """``text`` with secret setting values masked: error texts end up in the admin and logs."""
        from channels.models import is_secret

        def secrets(values: Any, secret: bool = False) -> Iterator[str]:
            if isinstance(values, dict):
                for key, value in values.items():
                    yield from secrets(value, secret or is_secret(str(key)))
            elif isinstance(values, list):
                for value in values:
                    yield from secrets(value, secret)
            elif secret and type(values) in (str, int) and len(str(values)) >= 4:
                yield str(values)

        found = [*secrets(self.settings), getattr(self.channel, "webhook_secret", "") or ""]
        for value in sorted(filter(None, found), key=len, reverse=True):
            text = text.replace(value, "••••••")
        return text

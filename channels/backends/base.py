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

import functools
import logging
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus

if TYPE_CHECKING:
    from channels.models import Channel

logger = logging.getLogger(__name__)


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
    """Base class: subclasses implement ``send``.

    Secrets: ``self.settings`` holds the channel's settings decrypted (read on first use, so a
    missing key fails the send, as a transient error, rather than building the backend). Every
    error that leaves ``send`` has them masked, and carries no chained exception that could
    print them."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "send" in cls.__dict__:
            cls.send = _guarded(cls.__dict__["send"])  # type: ignore[method-assign]

    @functools.cached_property
    def settings(self) -> dict[str, Any]:
        from django.core.exceptions import ImproperlyConfigured

        from security.crypto import DecryptionError

        try:
            return self.channel.plain_settings()
        except (DecryptionError, ImproperlyConfigured):  # a key dropped too early, or none
            raise TransientError(
                f"Channel {self.channel.name!r}: its stored secrets cannot be decrypted; "
                "check CRM_ENCRYPTION_KEYS (a key dropped before rotate_secrets ran?)."
            ) from None

    def send(self, message: Outgoing) -> str:
        """Hand the message over; return the provider's message id ("" when it has none)."""
        raise NotImplementedError

    def setting(self, name: str, default: Any = None, *, required: bool = False) -> Any:
        value = self.settings.get(name, default)
        if required and value in (None, ""):
            raise PermanentError(f"Channel {self.channel.name!r} has no {name!r} setting.")
        return value

    def secret_texts(self) -> list[str]:
        """Every secret of the channel as it could appear in a text: as typed, URL-encoded,
        and for a Bearer/Basic header value its credential alone; longest first."""
        from channels.models import is_secret

        def secrets(values: Any, secret: bool = False) -> Iterator[str]:
            if isinstance(values, dict):
                for key, value in values.items():
                    yield from secrets(value, secret or is_secret(str(key)))
            elif isinstance(values, list):
                for value in values:
                    yield from secrets(value, secret)
            elif secret and type(values) in (str, int, float) and len(str(values)) >= 4:
                yield str(values)

        try:
            settings = self.settings
        except TransientError:
            settings = {}
        try:
            webhook = self.channel.plain_webhook_secret()
        except Exception:  # an undecryptable one cannot be in any text either
            webhook = ""
        found: set[str] = set()
        for value in [*secrets(settings), webhook]:
            if not value:
                continue
            scheme, _, credential = value.partition(" ")
            variants = {value, quote(value, safe=""), quote_plus(value), quote(value)}
            if (
                credential
                and scheme.lower() in ("bearer", "basic", "token")
                and len(credential) >= 4
            ):
                variants.add(credential)
            found.update(variant for variant in variants if variant)
        return sorted(found, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        """``text`` with secret setting values masked: error texts end up in the admin and logs."""
        for value in self.secret_texts():
            text = text.replace(value, "••••••")
        return text


def _guarded(send: Callable[[Backend, Outgoing], str]) -> Callable[[Backend, Outgoing], str]:
    """``send`` whose errors never carry a secret: delivery errors lose their chained cause (a
    library's text, e.g. a URL with an API key), and an unexpected exception becomes a
    transient error with a masked text; its masked traceback goes to the log."""

    @functools.wraps(send)
    def wrapper(self: Backend, message: Outgoing) -> str:
        try:
            return send(self, message)
        except DeliveryError as error:
            error.args = tuple(self.scrub(str(arg)) for arg in error.args)
            raise error from None
        except Exception as error:
            trace = self.scrub("".join(traceback.format_exception(error)))
            logger.error(
                "channels.backend_crashed channel=%s message=%s\n%s",
                self.channel.pk,
                message.message_id,
                trace,
            )
            raise TransientError(
                self.scrub(f"Channel {self.channel.name!r}: {type(error).__name__}: {error}")
            ) from None

    return wrapper

"""Email through Django's mail API, so Django's SMTP backend or any django-anymail backend
delivers it.

Settings: ``email_backend`` (dotted path; default Django's SMTP backend), ``host``, ``port``,
``username``, ``password``, ``use_tls``, ``use_ssl``, ``timeout`` (default ``EMAIL_TIMEOUT`` or
10). Absent ones fall back to Django's ``EMAIL_*`` settings. Every other key is handed to the email
backend as well, so anymail's ``api_key``, ``sender_domain``… work without code.
"""

from __future__ import annotations

import smtplib
from email.utils import make_msgid, parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.utils import DNS_NAME

from channels.backends.base import (
    Backend,
    DeliveryError,
    Outgoing,
    PermanentError,
    TransientError,
)
from channels.backends.http import is_transient_status

try:  # django-anymail is optional; when installed, its errors are mapped like ours
    from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused

    _ESP_REFUSED: tuple[type[Exception], ...] = (AnymailRecipientsRefused,)
    _ESP_FAILED: tuple[type[Exception], ...] = (AnymailAPIError,)
except ImportError:
    _ESP_REFUSED = _ESP_FAILED = ()

DEFAULT_EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
# Channel settings this class reads itself rather than handing to the email backend.
_OWN_SETTINGS = frozenset({"email_backend", "fail_silently"})
# RCPT refusals that mean the mailbox does not exist or cannot exist: a hard bounce.
_BOUNCE_CODES = frozenset({550, 551, 553})


class SmtpBackend(Backend):
    """One email per call, with a fresh connection; returns its Message-ID (or the ESP's id)."""

    def send(self, message: Outgoing) -> str:
        from_email = self.channel.sender or settings.DEFAULT_FROM_EMAIL
        # Header injection: a line break in an address (customer data, a typed sender) could
        # add headers or recipients. Refused for good — no retry makes the address valid.
        for role, address in (("recipient", message.to), ("sender", from_email)):
            if any(char in address for char in "\r\n\0"):
                raise PermanentError(
                    self._describe(f"the {role} address holds a line break; not sent")
                )
        # A subject is one line: a line break (pasted text, customer data) becomes a space.
        subject = " ".join(message.subject.split())
        message_id = make_msgid(domain=_domain(from_email))
        headers = {"Message-ID": message_id}
        if message.unsubscribe_url:
            # RFC 8058: mailbox providers POST "List-Unsubscribe=One-Click" to this URL.
            url = message.unsubscribe_post_url or message.unsubscribe_url
            headers["List-Unsubscribe"] = f"<{url}>"
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        email = EmailMultiAlternatives(
            subject=subject,
            body=message.text,
            from_email=from_email,
            to=[message.to],
            headers=headers,
            connection=self._connection(),
        )
        if message.html:
            email.attach_alternative(message.html, "text/html")
        try:
            email.send(fail_silently=False)
        except _ESP_REFUSED as error:
            raise PermanentError(self._describe(str(error)), bounced=True) from error
        # Before OSError: anymail's requests-based errors are OSErrors too.
        except _ESP_FAILED as error:
            status = getattr(error, "status_code", None)
            text = self._describe(f"ESP answered {status}: {error}")
            if status is None or is_transient_status(status):
                raise TransientError(text) from error
            raise PermanentError(text) from error
        except smtplib.SMTPRecipientsRefused as error:
            raise self._refused(error) from error
        except smtplib.SMTPResponseException as error:
            raise self._by_code(error.smtp_code, _text(error.smtp_error)) from error
        except smtplib.SMTPNotSupportedError as error:
            raise PermanentError(self._describe(f"server lacks a feature: {error}")) from error
        # SMTPServerDisconnected and the rest of SMTPException, ConnectionError, TimeoutError
        # (socket.timeout) and other OSErrors: the server may well be back later.
        except (smtplib.SMTPException, OSError) as error:
            raise TransientError(self._describe(f"{type(error).__name__}: {error}")) from error
        # BadHeaderError (a line break in a header) or an address Python cannot parse: no
        # retry helps, so the message fails for good instead of looping.
        except ValueError as error:
            raise PermanentError(self._describe(f"{type(error).__name__}: {error}")) from error
        # An ESP's own id is what its webhooks report; SMTP servers keep ours.
        esp_id = getattr(getattr(email, "anymail_status", None), "message_id", None)
        return esp_id if isinstance(esp_id, str) and esp_id else message_id

    def _connection(self) -> BaseEmailBackend:
        options = {k: v for k, v in self.settings.items() if k not in _OWN_SETTINGS}
        if options.get("timeout") is None:
            options["timeout"] = settings.EMAIL_TIMEOUT or 10
        path = self.setting("email_backend") or DEFAULT_EMAIL_BACKEND
        try:
            return get_connection(path, fail_silently=False, **options)
        except (ImportError, TypeError, ValueError) as error:  # bad path, option or TLS+SSL
            raise PermanentError(self._describe(f"cannot use {path}: {error}")) from error

    def _refused(self, error: smtplib.SMTPRecipientsRefused) -> DeliveryError:
        codes = [code for code, _ in error.recipients.values()]
        reasons = "; ".join(
            f"{address}: {code} {_text(reply)}"
            for address, (code, reply) in error.recipients.items()
        )
        if not codes or any(code < 500 for code in codes):
            return TransientError(self._describe(f"recipient refused for now ({reasons})"))
        return PermanentError(
            self._describe(f"recipient refused ({reasons})"),
            bounced=all(code in _BOUNCE_CODES for code in codes),
        )

    def _by_code(self, code: int, reply: str) -> DeliveryError:
        text = self._describe(f"SMTP {code} {reply}")
        return PermanentError(text) if code >= 500 else TransientError(text)

    def _describe(self, text: str) -> str:
        return self.scrub(f"Channel {self.channel.name!r}: {text}")


def _domain(address: str) -> str:
    """The Message-ID domain: the sender's own, so receivers see ids from the sending domain."""
    domain = parseaddr(address)[1].rpartition("@")[2]
    try:
        return domain.encode("idna").decode("ascii") if domain else str(DNS_NAME)
    except UnicodeError:
        return str(DNS_NAME)


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)

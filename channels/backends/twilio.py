"""Twilio Programmable Messaging (SMS and WhatsApp) over its REST API, without the SDK.

Settings: ``account_sid`` and ``auth_token`` (required), ``from`` (else the channel's sender),
``messaging_service_sid`` (sent instead of From), ``status_callback``, ``base_url`` (default
https://api.twilio.com; tests point it at loopback), ``timeout`` (10).
"""

from __future__ import annotations

from channels.backends.base import Backend, Outgoing, PermanentError
from channels.backends.http import DEFAULT_TIMEOUT, raise_for_status, request

DEFAULT_BASE_URL = "https://api.twilio.com"
# Twilio error codes that mean this number cannot receive: invalid "To", not a mobile number,
# the recipient replied STOP.
BOUNCE_CODES = frozenset({21211, 21614, 21610})


class TwilioBackend(Backend):
    """Creates one Message resource; returns its sid."""

    def send(self, message: Outgoing) -> str:
        sid = self.setting("account_sid", required=True)
        token = self.setting("auth_token", required=True)
        service = self.setting("messaging_service_sid")
        sender = self.setting("from") or self.channel.sender
        prefix = "whatsapp:" if message.kind == "whatsapp" else ""
        form = {"To": _address(prefix, message.to), "Body": message.text}
        if service:
            form["MessagingServiceSid"] = service
        elif sender:
            form["From"] = _address(prefix, sender)
        else:
            raise PermanentError(
                f"Channel {self.channel.name!r} needs a 'from', a sender or a messaging service."
            )
        if callback := self.setting("status_callback"):
            form["StatusCallback"] = callback

        base_url = (self.setting("base_url") or DEFAULT_BASE_URL).rstrip("/")
        response = request(
            self,
            "POST",
            f"{base_url}/2010-04-01/Accounts/{sid}/Messages.json",
            data=form,
            auth=(sid, token),
            timeout=float(self.setting("timeout") or DEFAULT_TIMEOUT),
        )
        try:
            body = response.json()
        except ValueError:
            body = None
        body = body if isinstance(body, dict) else {}
        code = body.get("code")
        raise_for_status(
            self,
            response,
            detail=f"Twilio error {code}: {body.get('message')}" if code else "",
            bounced=code in BOUNCE_CODES,
        )
        return str(body.get("sid") or "")


def _address(prefix: str, value: str) -> str:
    return value if not prefix or value.startswith(prefix) else prefix + value

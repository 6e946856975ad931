"""A signed JSON POST per message, for push, WhatsApp and Telegram bridges we do not host.

Settings: ``url`` and ``secret`` (required), ``headers`` (extra, e.g. Authorization),
``timeout`` (10). The receiver checks ``X-CRM-Signature`` with ``channels.signing.verify``.
"""

from __future__ import annotations

import json

from django.utils import timezone

from channels import signing
from channels.backends.base import Backend, Outgoing
from channels.backends.http import DEFAULT_TIMEOUT, raise_for_status, request


class WebhookBackend(Backend):
    """POSTs the message; returns the receiver's ``id`` when its JSON answer has one."""

    def send(self, message: Outgoing) -> str:
        url = self.setting("url", required=True)
        secret = self.setting("secret", required=True)
        payload = {
            "id": message.message_id,
            "kind": message.kind,
            "to": message.to,
            "subject": message.subject,
            "text": message.text,
            "html": message.html,
            "purpose": message.purpose,
            "customer": message.customer_public_id,
            "locale": message.locale,
            "metadata": message.metadata,
        }
        # Signed bytes are sent as they are: re-serialising could change what was signed.
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str).encode()
        timestamp = int(timezone.now().timestamp())
        headers = {
            **(self.setting("headers") or {}),
            "Content-Type": "application/json",
            signing.TIMESTAMP_HEADER: str(timestamp),
            signing.SIGNATURE_HEADER: signing.sign(secret, timestamp, body),
        }
        response = request(
            self,
            "POST",
            url,
            content=body,
            headers=headers,
            timeout=float(self.setting("timeout") or DEFAULT_TIMEOUT),
        )
        raise_for_status(self, response)
        try:
            answer = response.json()
        except ValueError:
            return ""
        provider_id = answer.get("id") if isinstance(answer, dict) else None
        return "" if provider_id is None else str(provider_id)

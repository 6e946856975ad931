"""Consent changes: per address (an email or phone identity) and purpose, or customer-wide."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from customers import services
from customers.errors import DomainError
from customers.identity import normalize_identifier
from customers.models import ChannelKind, Consent, Customer, Identity, Interaction, Source

# Which identity kind carries a channel's address.
ADDRESS_KIND = {
    "email": "email",
    "sms": "phone",
    "phone": "phone",
    "whatsapp": "phone",
    "telegram": "telegram",
    "push": "push_token",
    "webhook": "user_id",
}


def set_consent(
    customer: Customer,
    *,
    channel: str,
    purpose: str,
    status: str,
    address: str | None = None,
    source: Source | None = None,
    wording: str = "",
    proof: Mapping[str, Any] | None = None,
) -> Consent:
    """Record the customer's consent for one channel's address (or ``channel="all"``) and
    purpose, with its wording and proof; writes the change on the timeline. Idempotent for the
    same status. Raises DomainError("no_address") when they have no such address."""
    customer = services.live(customer, refresh=True)
    identity = None
    if channel != "all":
        kind = ADDRESS_KIND.get(channel)
        if kind is None:
            raise DomainError(
                "invalid_channel",
                _("No consent address for channel %(channel)s.") % {"channel": channel},
            )
        addresses = Identity.objects.filter(customer=customer, kind=kind)
        if address:
            value = normalize_identifier(kind, address)
            addresses = addresses.filter(value=value or "")
        identity = addresses.order_by("-verified", "created_at").first()
        if identity is None:
            raise DomainError(
                "no_address",
                _("This customer has no %(kind)s address to consent for.") % {"kind": kind},
                status=422,
            )
    now = timezone.now()
    with transaction.atomic():
        consent, created = Consent.objects.select_for_update().get_or_create(
            customer=customer,
            identity=identity,
            purpose=purpose,
            defaults={"status": status, "source": source, "wording": wording, "proof": proof or {}},
        )
        if not created and consent.status == status:
            return consent
        if not created:
            consent.status, consent.source, consent.updated_at = status, source, now
            consent.wording, consent.proof = wording, dict(proof or {})
            consent.save()
        target = identity.value if identity else "all addresses"
        services.record_interaction(
            customer=customer,
            type=Interaction.Type.SYSTEM,
            channel=channel if channel in ChannelKind.values else ChannelKind.OTHER,
            name="Consent Changed",
            summary=f"{purpose} consent {status} for {target}"[:500],
            direction=Interaction.Direction.INTERNAL,
            properties={"purpose": purpose, "status": status, "address": target},
            source=source,
        )
        return consent


def may_contact(customer: Customer, address: Identity, purpose: str) -> str | None:
    """Why this address may not get a message of this purpose now, or None when it may.

    Marketing needs a granted consent, on the address or customer-wide, and no withdrawal on
    either (opt-out wins). Transactional needs only an address that has not hard-bounced and
    was not opted out of transactional messages too."""
    return ConsentBook([customer.pk]).why_not(address, purpose)


class ConsentBook:
    """The consents of many customers read in one query, answering ``may_contact`` for each of
    their addresses without another (a campaign's fan-out asks it thousands of times)."""

    def __init__(self, customer_ids: Iterable[int]) -> None:
        self._states: dict[tuple[int, int | None, str], str] = {
            (customer_id, identity_id, purpose): status
            for customer_id, identity_id, purpose, status in Consent.objects.filter(
                customer_id__in=set(customer_ids)
            ).values_list("customer_id", "identity_id", "purpose", "status")
        }

    @classmethod
    def of(cls, consents: Iterable[Consent]) -> ConsentBook:
        """A book of consents already read (the customer page has them): no query."""
        book = cls([])
        book._states = {(c.customer_id, c.identity_id, c.purpose): c.status for c in consents}
        return book

    def why_not(self, address: Identity, purpose: str) -> str | None:
        if address.bounced_at is not None:
            return _("The address bounced.")
        on_address = self._states.get((address.customer_id, address.pk, purpose))
        everywhere = self._states.get((address.customer_id, None, purpose))
        withdrawn = Consent.Status.WITHDRAWN
        if on_address == withdrawn:
            return _("Opted out on this address.")
        if everywhere == withdrawn:
            return _("Opted out on every address.")
        if purpose != Consent.Purpose.MARKETING:
            return None
        if Consent.Status.GRANTED in (on_address, everywhere):
            return None
        if on_address == Consent.Status.PENDING:
            return _("Consent waits for confirmation.")
        return _("No marketing consent.")

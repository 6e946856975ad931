"""The event log: every touchpoint enters the timeline through ``record_interaction``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.db.models.functions import Greatest, Least
from django.utils import timezone

from customers import reactors
from customers.models import (
    Customer,
    Interaction,
    Source,
)
from customers.services.lookup import live

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


def summarize(type_: str, name: str, properties: Mapping[str, Any]) -> str:
    """A one-line summary for the timeline when the caller gave none."""
    if type_ == Interaction.Type.PAGE:
        title = properties.get("title") or properties.get("path") or properties.get("url") or ""
        return str(title or name)[:500]
    if type_ == Interaction.Type.SCREEN:
        return str(name or properties.get("name") or "")[:500]
    label = name
    for key in ("name", "sku", "product_id", "order_id"):
        if properties.get(key):
            label = f"{name}: {properties[key]}" if name else str(properties[key])
            break
    return str(label)[:500]


def record_interaction(
    *,
    customer: Customer,
    type: str,
    channel: str,
    occurred_at: datetime | None = None,
    source: Source | None = None,
    name: str = "",
    summary: str = "",
    direction: str = Interaction.Direction.INBOUND,
    properties: Mapping[str, Any] | None = None,
    context: Mapping[str, Any] | None = None,
    agent: AbstractBaseUser | None = None,
    message_id: str = "",
) -> tuple[Interaction, bool]:
    """Append one touchpoint to the customer's timeline and run the registered reactors.

    Idempotent on (source, message_id): a replay returns the first row and ``created=False``
    and changes nothing. Writes on a tombstone land on its survivor.
    """
    now = timezone.now()
    occurred_at = occurred_at or now
    props = dict(properties or {})
    row = Interaction(
        source=source,
        channel=channel,
        type=type,
        direction=direction,
        name=name[:200],
        summary=(summary or summarize(type, name, props))[:500],
        occurred_at=occurred_at,
        received_at=now,
        properties=props,
        context=dict(context or {}),
        agent=agent,
        message_id=message_id[:200] if source is not None else "",
    )
    # No savepoint of our own: a failure here (a reactor's, say) aborts the caller's unit.
    with transaction.atomic(savepoint=False):
        # One UPDATE both moves first/last seen and proves the customer is live; a tombstone
        # matches nothing, and the write follows it to its survivor.
        seen = {
            "first_seen_at": Least("first_seen_at", occurred_at),
            "last_seen_at": Greatest("last_seen_at", occurred_at),
        }
        if not Customer.objects.filter(pk=customer.pk, merged_into__isnull=True).update(**seen):
            customer = live(customer, refresh=True)
            Customer.objects.filter(pk=customer.pk).update(**seen)
        row.customer = customer
        if not row.message_id:
            row.save(force_insert=True)
        else:
            try:
                with transaction.atomic():
                    row.save(force_insert=True)
            except IntegrityError:
                existing = Interaction.objects.filter(
                    source=source, message_id=row.message_id
                ).first()
                if existing is None:
                    raise
                return existing, False
        interaction = row
        reactors.dispatch(interaction)
        return interaction, True

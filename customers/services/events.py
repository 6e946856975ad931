"""The event log: every touchpoint enters the timeline through ``record_interaction``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, connection, transaction
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
    for key in ("name", "sku", "product_id", "order_id", "query", "category"):
        if properties.get(key):
            label = f"{name}: {properties[key]}" if name else str(properties[key])
            break
    return str(label)[:500]


def build_interaction(
    *,
    type: str,
    channel: str,
    occurred_at: datetime | None = None,
    received_at: datetime | None = None,
    source: Source | None = None,
    name: str = "",
    summary: str = "",
    direction: str = Interaction.Direction.INBOUND,
    properties: Mapping[str, Any] | None = None,
    context: Mapping[str, Any] | None = None,
    agent: AbstractBaseUser | None = None,
    message_id: str = "",
) -> Interaction:
    """An unsaved timeline row with its summary written; no customer yet."""
    received_at = received_at or timezone.now()
    props = dict(properties or {})
    return Interaction(
        source=source,
        channel=channel,
        type=type,
        direction=direction,
        name=name[:200],
        summary=(summary or summarize(type, name, props))[:500],
        occurred_at=occurred_at or received_at,
        received_at=received_at,
        properties=props,
        context=dict(context or {}),
        agent=agent,
        message_id=message_id[:200] if source is not None else "",
    )


def record_interaction(
    *, customer: Customer, seen: bool = True, **fields: Any
) -> tuple[Interaction, bool]:
    """Append one touchpoint to the customer's timeline and run the interested reactors.

    ``fields`` are those of ``build_interaction``. Idempotent on (source, message_id): a replay
    returns the first row and ``created=False`` and changes nothing. Writes on a tombstone land
    on its survivor. ``seen=False`` is for what we do rather than what the customer does (a
    message we send): first/last seen stay, and the caller vouches the customer is live (it
    holds the row locked or has just read it).
    """
    row = build_interaction(**fields)
    # No savepoint of our own: a failure here (a reactor's, say) aborts the caller's unit.
    with transaction.atomic(savepoint=False):
        if not seen:
            customer = live(customer)
        else:
            # One UPDATE both moves first/last seen and proves the customer is live; a
            # tombstone matches nothing, and the write follows it to its survivor.
            moved = _seen(row.occurred_at)
            if not Customer.objects.filter(pk=customer.pk, merged_into__isnull=True).update(
                **moved
            ):
                customer = live(customer, refresh=True)
                Customer.objects.filter(pk=customer.pk).update(**moved)
        row.customer = customer
        if not row.message_id:
            row.save(force_insert=True)
        else:
            try:
                with transaction.atomic():
                    row.save(force_insert=True)
            except IntegrityError:
                existing = Interaction.objects.filter(
                    source=row.source, message_id=row.message_id
                ).first()
                if existing is None:
                    raise
                return existing, False
        reactors.dispatch(row)
        return row, True


def _seen(occurred_at: datetime) -> dict[str, Any]:
    return {
        "first_seen_at": Least("first_seen_at", occurred_at),
        "last_seen_at": Greatest("last_seen_at", occurred_at),
    }


def insert_many(rows: Sequence[Interaction], *, seen: bool = True) -> None:
    """Insert rows whose customers are set, in one statement, and move first/last seen of
    their customers in one more (PostgreSQL; per customer elsewhere; not with ``seen=False``,
    for what we do rather than what they do). Rows that landed on a customer merged
    meanwhile follow it. Reactors are the caller's to run, in order.
    Raises IntegrityError (nothing inserted) if any (source, message_id) exists already."""
    if not rows:
        return
    with transaction.atomic(savepoint=False):
        Interaction.objects.bulk_create(rows)
    spans: dict[int, tuple[datetime, datetime]] = {}
    for row in rows:
        first, last = spans.get(row.customer_id, (row.occurred_at, row.occurred_at))
        spans[row.customer_id] = (min(first, row.occurred_at), max(last, row.occurred_at))
    if seen:
        _note_seen(spans)
    merged = dict(
        Customer.objects.filter(pk__in=list(spans), merged_into__isnull=False).values_list(
            "pk", "merged_into_id"
        )
    )
    for old, new in merged.items():
        moved = [row.pk for row in rows if row.customer_id == old]
        Interaction.objects.filter(pk__in=moved).update(customer=new)
        for row in rows:
            if row.customer_id == old:
                row.customer_id = new


def _note_seen(spans: Mapping[int, tuple[datetime, datetime]]) -> None:
    if connection.vendor != "postgresql":
        for pk, (first, last) in spans.items():
            Customer.objects.filter(pk=pk).update(
                first_seen_at=Least("first_seen_at", first),
                last_seen_at=Greatest("last_seen_at", last),
            )
        return
    table = Customer._meta.db_table
    values = ", ".join(["(%s::bigint, %s::timestamptz, %s::timestamptz)"] * len(spans))
    params: list[Any] = []
    for pk, (first, last) in sorted(spans.items()):  # pk order: no deadlock between batches
        params += [pk, first, last]
    with connection.cursor() as cursor:
        cursor.execute(
            # Only placeholders carry values; the table name is our own.
            f"UPDATE {table} AS c SET first_seen_at = LEAST(c.first_seen_at, v.f), "
            f"last_seen_at = GREATEST(c.last_seen_at, v.l) "
            f"FROM (VALUES {values}) AS v(id, f, l) WHERE c.id = v.id",
            params,
        )

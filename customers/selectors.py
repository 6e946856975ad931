"""Read queries of the customers app; they own their select_related and prefetches."""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet

from config.prepared import limit_as_parameter, prepared
from customers.identity import normalize_email, normalize_phone, normalize_search_text
from customers.models import (
    ChannelKind,
    Consent,
    Customer,
    Identity,
    Interaction,
    MergeSuggestion,
)

TIMELINE_PAGE_SIZE = 50


@dataclass(frozen=True)
class TimelineCursor:
    """A keyset position on a timeline: the (occurred_at, id) of the last row shown."""

    occurred_at: datetime
    pk: int

    def encode(self) -> str:
        raw = f"{self.occurred_at.isoformat()}|{self.pk}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str | None) -> TimelineCursor | None:
        """The cursor a token names, or None for a missing or malformed token (never raises)."""
        if not token:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            stamp, pk = raw.rsplit("|", 1)
            occurred_at = datetime.fromisoformat(stamp)
            if occurred_at.tzinfo is None:
                return None
            return cls(occurred_at=occurred_at, pk=int(pk))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return None


@dataclass(frozen=True)
class TimelinePage:
    items: list[Interaction]
    next_cursor: TimelineCursor | None


def timeline_query(
    customer: Customer,
    *,
    before: TimelineCursor | None = None,
    channel: str | None = None,
    types: list[str] | None = None,
    limit: int = TIMELINE_PAGE_SIZE,
) -> QuerySet[Interaction]:
    """The rows of one timeline page, newest first, by keyset (never OFFSET), and one more to
    tell whether another page follows. The LIMIT is a parameter, so the plan PostgreSQL keeps
    for the prepared query walks the index for any customer (config/prepared.py)."""
    rows = limit_as_parameter(Interaction.objects.filter(customer=customer))
    rows = rows.select_related("source", "agent")
    if channel:
        rows = rows.filter(channel=channel)
    if types:
        rows = rows.filter(type__in=types)
    if before is not None:
        # The plain bound lets the index start the range scan at the cursor; the OR alone is
        # a filter that would read and drop every newer row first.
        rows = rows.filter(occurred_at__lte=before.occurred_at).filter(
            Q(occurred_at__lt=before.occurred_at)
            | Q(occurred_at=before.occurred_at, pk__lt=before.pk)
        )
    return rows.order_by("-occurred_at", "-pk")[: limit + 1]


def timeline(
    customer: Customer,
    *,
    before: TimelineCursor | None = None,
    channel: str | None = None,
    types: list[str] | None = None,
    limit: int = TIMELINE_PAGE_SIZE,
) -> TimelinePage:
    """One page of a customer's timeline: one query."""
    rows = timeline_query(customer, before=before, channel=channel, types=types, limit=limit)
    # Planning this query over the monthly partitions costs more than running it: prepared, it
    # is planned once per connection (config/prepared.py).
    with prepared(rows.db):
        items = list(rows)
    next_cursor = None
    if len(items) > limit:
        items = items[:limit]
        last = items[-1]
        next_cursor = TimelineCursor(occurred_at=last.occurred_at, pk=last.pk)
    return TimelinePage(items=items, next_cursor=next_cursor)


def identities_of(customer: Customer) -> list[Identity]:
    return list(Identity.objects.filter(customer=customer).select_related("source"))


def consents_of(customer: Customer) -> list[Consent]:
    return list(Consent.objects.filter(customer=customer).select_related("identity", "source"))


def channels_seen(customer: Customer) -> list[str]:
    """Channels on the customer's timeline: one query of one index probe per channel, so it
    costs the same at 10 or 100,000 interactions (a DISTINCT would read them all)."""
    probes = {
        channel: Exists(Interaction.objects.filter(customer=customer.pk, channel=channel))
        for channel in ChannelKind.values
    }
    row = Customer.objects.filter(pk=customer.pk).values(**probes).first() or {}
    return sorted(channel for channel in ChannelKind.values if row.get(channel))


def open_suggestions_for(customer: Customer) -> list[MergeSuggestion]:
    return list(
        MergeSuggestion.objects.filter(
            Q(customer=customer) | Q(other=customer), status=MergeSuggestion.Status.OPEN
        ).select_related("customer", "other")
    )


def search_customers(queryset: QuerySet[Customer], term: str) -> QuerySet[Customer]:
    """Customers matching a term typed any way: names in any letter variant, emails, phones in
    Persian, Arabic or Latin digits, any identifier value, or the public id."""
    term = (term or "").strip()
    if not term:
        return queryset
    exact_values = {term, normalize_search_text(term)}
    if email := normalize_email(term):
        exact_values.add(email)
    if phone := normalize_phone(term):
        exact_values.add(phone)
    by_identity = Exists(
        Identity.objects.filter(customer=OuterRef("pk"), value__in=sorted(exact_values))
    )
    words = normalize_search_text(term).split()
    by_text = Q()
    for word in words:
        by_text &= Q(search_text__contains=word)
    condition = Q(by_identity) | by_text if words else Q(by_identity)
    try:
        condition |= Q(public_id=uuid.UUID(term))
    except ValueError:
        pass
    return queryset.filter(condition)

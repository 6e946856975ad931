"""Planned customers and their rows, written directly: the sample's crowd and the bulk mode.

``RowWriter`` uses ``COPY`` on PostgreSQL and ``bulk_create`` elsewhere; the rows carry the same
search text and identities the services would have written.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db import connection, models
from django.utils import timezone

from customers import services
from customers.demo.names import Person
from customers.demo.shop import APP, CURRENCY, POS, PRODUCTS, WEB
from customers.demo.timeline import Template, _dumps, _product
from customers.models import Customer

HISTORY_DAYS = 730


# --- Planning customers -----------------------------------------------------------------------


@dataclass(slots=True)
class Planned:
    """One customer to write: its row, identities, and when its timeline rows happened."""

    person: Person
    public_id: uuid.UUID
    stage: str
    traits: dict[str, Any]
    identities: list[tuple[str, str, bool, str | None]]  # kind, value, verified, source
    times: list[float]  # epoch seconds; the first len(orders) belong to the orders
    orders: list[tuple[str, Decimal, str]] = field(default_factory=list)  # channel, total, json
    consents: list[tuple[str | None, str, str]] = field(default_factory=list)

    @property
    def first_seen(self) -> datetime | None:
        return _at(min(self.times)) if self.times else None

    @property
    def last_seen(self) -> datetime | None:
        return _at(max(self.times)) if self.times else None


def _at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def _times(rng: random.Random, now: float, count: int) -> list[float]:
    """``count`` moments in one customer's history, within the last two years."""
    horizon = HISTORY_DAYS * 86400
    last = now - min(rng.expovariate(1 / (30 * 86400)), horizon * 0.9)
    first = last - rng.uniform(0.05, 1.0) * (horizon - (now - last))
    return [first + rng.random() * (last - first) for _ in range(count)]


def _orders(rng: random.Random, count: int, order_prefix: str) -> list[tuple[str, Decimal, str]]:
    orders = []
    for n in range(count):
        lines = []
        for sku, name, category, price in rng.sample(PRODUCTS, rng.choice((1, 1, 2, 3))):
            lines.append(
                {**_product(sku, name, category, price), "quantity": rng.choice((1, 1, 2))}
            )
        total = sum(Decimal(str(line["price"])) * line["quantity"] for line in lines)
        order_id = f"{order_prefix}-{n + 1}"
        props = {
            "order_id": order_id,
            "total": float(total),
            "revenue": float(total),
            "currency": CURRENCY,
            "products": lines,
        }
        orders.append((rng.choice(("web", "web", "app", "store")), total, _dumps(props)))
    return orders


def _stage(rng: random.Random, orders: int) -> str:
    if orders == 0:
        return rng.choice((Customer.Stage.AWARENESS, Customer.Stage.CONSIDERATION))
    if orders == 1:
        return Customer.Stage.PURCHASE
    return Customer.Stage.ADVOCACY if rng.random() < 0.2 else Customer.Stage.RETENTION


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


# --- Writing rows -----------------------------------------------------------------------------

CUSTOMER_COLUMNS = (
    "public_id", "first_name", "last_name", "locale", "time_zone", "stage", "traits",
    "search_text", "first_seen_at", "last_seen_at", "order_count", "total_spent",
    "first_order_at", "last_order_at", "created_at", "updated_at",
)  # fmt: skip
IDENTITY_COLUMNS = ("customer_id", "kind", "value", "verified", "source_id", "created_at")
INTERACTION_COLUMNS = (
    "customer_id", "source_id", "channel", "type", "direction", "name", "summary", "occurred_at",
    "received_at", "properties", "context", "agent_id", "message_id",
)  # fmt: skip
JSON_COLUMNS = {"traits", "properties", "context"}


def customer_row(plan: Planned, now: datetime, *, orders: bool = True) -> tuple[Any, ...]:
    """The customer's columns (CUSTOMER_COLUMNS); search text as the services compute it.
    ``orders=False`` leaves the order totals at zero for the commerce reactor to fill in."""
    person = plan.person
    # Sorted by kind, as refresh_search_text reads them, so both write the same text.
    searchable = sorted(
        ((kind, value) for kind, value, *_ in plan.identities if kind != "anonymous_id"),
        key=lambda pair: pair[0],
    )
    placed = plan.orders if orders else []
    order_times = [_at(t) for t in plan.times[: len(placed)]]
    first_seen = plan.first_seen
    return (
        plan.public_id,
        person.first_name,
        person.last_name,
        person.locale,
        person.time_zone,
        plan.stage,
        _dumps(plan.traits),
        services.search_text_for(person.first_name, person.last_name, searchable),
        first_seen or now,  # a profile is seen when it is made, even with no history
        plan.last_seen or now,
        len(placed),
        sum((total for _, total, _ in placed), Decimal("0.00")),
        min(order_times, default=None),
        max(order_times, default=None),
        first_seen or now,
        now,
    )


def identity_rows(customer_id: int, plan: Planned, sources: dict[str, int]) -> Iterator[tuple]:
    created = plan.first_seen or timezone.now()
    for kind, value, verified, source in plan.identities:
        yield customer_id, kind, value, verified, sources.get(source or ""), created


def interaction_rows(
    customer_id: int,
    plan: Planned,
    pool: Sequence[Template],
    sources: dict[str, int],
    rng: random.Random,
    *,
    agent_id: int | None = None,
    orders: bool = True,
) -> Iterator[tuple]:
    """The customer's timeline rows (INTERACTION_COLUMNS): its orders (unless ``orders=False``:
    see record_orders), then picks from the pool."""
    n_orders = len(plan.orders)
    source_of = {"web": sources[WEB], "app": sources[APP], "store": sources[POS]}
    for ts, (channel, total, props) in zip(plan.times, plan.orders if orders else [], strict=False):
        when = _at(ts)
        summary = f"Order Completed: {total} {CURRENCY}"
        yield (
            customer_id,
            source_of[channel],
            channel,
            "track",
            "in",
            "Order Completed",
            summary,
            when,
            when,
            props,
            "{}",
            None,
            "",
        )
    size = len(pool)
    pick = rng.random
    for ts in plan.times[n_orders:]:
        t = pool[int(pick() * size)]
        when = _at(ts)
        agent = agent_id if t.type in ("call", "note") else None
        yield (
            customer_id,
            sources.get(t.source) if t.source else None,
            t.channel,
            t.type,
            t.direction,
            t.name,
            t.summary,
            when,
            when,
            t.properties,
            t.context,
            agent,
            "",
        )


class RowWriter:
    """Writes planned rows: COPY on PostgreSQL, ``bulk_create(batch_size=2000)`` elsewhere."""

    def __init__(self) -> None:
        self.copy = connection.vendor == "postgresql"
        self._json_cache: dict[str, Any] = {}

    def customers(self, rows: Sequence[tuple[Any, ...]]) -> list[int]:
        """Insert customers; their new primary keys, in order."""
        if not rows:
            return []
        if self.copy:
            with connection.cursor() as cursor:
                table = Customer._meta.db_table
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                    [table, len(rows)],
                )
                ids = [pk for (pk,) in cursor.fetchall()]
            self._copy(
                Customer,
                ("id", *CUSTOMER_COLUMNS),
                ((pk, *row) for pk, row in zip(ids, rows, strict=True)),
            )
            return ids
        objs = Customer.objects.bulk_create(
            [Customer(**self._fields(CUSTOMER_COLUMNS, row)) for row in rows], batch_size=2000
        )
        return [obj.pk for obj in objs]

    def rows(self, model: type[models.Model], columns: Sequence[str], rows: Iterable[tuple]) -> int:
        """Insert rows of ``model`` given in ``columns`` order; how many were written."""
        if self.copy:
            return self._copy(model, columns, rows)
        written, batch = 0, []
        for row in rows:
            batch.append(model(**self._fields(columns, row)))
            if len(batch) == 2000:
                written += len(model._default_manager.bulk_create(batch))
                batch = []
        if batch:
            written += len(model._default_manager.bulk_create(batch))
        return written

    def _fields(self, columns: Sequence[str], row: tuple[Any, ...]) -> dict[str, Any]:
        values = dict(zip(columns, row, strict=True))
        for name in JSON_COLUMNS.intersection(values):
            text = values[name]
            if text not in self._json_cache:
                self._json_cache[text] = json.loads(text)
            values[name] = self._json_cache[text]
        return values

    def _copy(
        self, model: type[models.Model], columns: Sequence[str], rows: Iterable[tuple]
    ) -> int:
        quote = connection.ops.quote_name
        attnames = {f.attname: f.column for f in model._meta.concrete_fields}
        sql = "COPY {} ({}) FROM STDIN".format(
            quote(model._meta.db_table), ", ".join(quote(attnames[c]) for c in columns)
        )
        written = 0
        with connection.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
                written += 1
        return written

"""Bulk (benchmark) mode: many customers with long timelines, ``COPY`` on PostgreSQL."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from customers import services
from customers.demo.names import TIME_ZONES, Person, _bulk_phone, make_person
from customers.demo.rows import (
    IDENTITY_COLUMNS,
    INTERACTION_COLUMNS,
    Planned,
    RowWriter,
    _orders,
    _stage,
    _times,
    _uuid,
    customer_row,
    identity_rows,
    interaction_rows,
)
from customers.demo.shop import WEB, ensure_sources
from customers.demo.timeline import Template, build_pool
from customers.models import Customer, Identity, Interaction

BULK_USER_ID_PREFIX = "demo-bulk-"
HOT_CUSTOMER_USER_ID = "demo-hot-customer"


def plan_bulk(
    rng: random.Random,
    *,
    start: int,
    count: int,
    per_customer: int,
    now: float,
    user_id: Callable[[int], str] | None = None,
) -> list[Planned]:
    """Benchmark customers ``start`` .. ``start + count - 1``; identifiers derive from the index."""
    planned = []
    for i in range(start, start + count):
        locale = ("fa", "ar", "az", "en")[i % 4]
        person = make_person(rng, locale)
        if person.country == "US":  # bulk phones are numbered in one UK range
            person = Person(
                person.first_name,
                person.last_name,
                person.email_name,
                locale,
                "GB",
                TIME_ZONES["en"],
                "London",
            )
        order_count = min(max(per_customer // 4, 0), rng.choice((0, 0, 1, 1, 2, 3)))
        if per_customer >= 1000:
            order_count = per_customer // 50
        identities: list[tuple[str, str, bool, str | None]] = [
            ("user_id", user_id(i) if user_id else f"{BULK_USER_ID_PREFIX}{i:08d}", False, WEB),
            ("anonymous_id", str(_uuid(rng)), False, WEB),
            ("email", f"{person.email_name}.{i}@example.com", False, WEB),
            ("phone", _bulk_phone(locale, i // 4), False, WEB),
        ]
        planned.append(
            Planned(
                person=person,
                public_id=_uuid(rng),
                stage=_stage(rng, order_count),
                traits={"demo": "bulk", "city": person.city},  # "bulk": not the sample
                identities=identities,
                times=_times(rng, now, per_customer),
                orders=_orders(rng, order_count, f"B{i:08d}"),
            )
        )
    return planned


@dataclass
class BulkReport:
    customers: int = 0
    identities: int = 0
    interactions: int = 0
    seconds: float = 0.0
    skipped: int = 0  # customers that already existed
    hot_customer: int | None = None
    hot_created: bool = False

    @property
    def rows(self) -> int:
        return self.customers + self.identities + self.interactions


CHUNK = 5000


def bulk_existing() -> tuple[int, int]:
    """(how many bulk customers exist, the highest index used)."""
    rows = Identity.objects.filter(kind="user_id", value__startswith=BULK_USER_ID_PREFIX)
    top = rows.aggregate(top=Max("value"))["top"]
    return rows.count(), int(top.removeprefix(BULK_USER_ID_PREFIX)) if top else 0


def hot_customer() -> Customer | None:
    """The benchmark's customer with a long history, if loaded."""
    return services.find_customer({"user_id": HOT_CUSTOMER_USER_ID})


def load_bulk(
    *,
    customers: int,
    per_customer: int,
    hot_interactions: int = 0,
    seed: int = 1,
    now: datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> BulkReport:
    """Make sure ``customers`` bulk customers exist (each new one with ``per_customer`` timeline
    rows), plus one hot customer with ``hot_interactions`` rows; all or nothing. Idempotent:
    existing bulk customers count towards ``customers`` and the hot customer is made once."""
    started = time.perf_counter()
    report = BulkReport()
    now = now or timezone.now()
    existing, top = bulk_existing()
    report.skipped = min(existing, customers)
    missing = max(customers - existing, 0)
    with transaction.atomic():
        sources = {name: source.pk for name, source in ensure_sources().items()}
        writer = RowWriter()
        pools = {
            locale: build_pool(random.Random(f"demo-pool:{seed}:{locale}"), locale)
            for locale in TIME_ZONES
        }
        for start in range(top + 1, top + 1 + missing, CHUNK):
            count = min(CHUNK, top + 1 + missing - start)
            rng = random.Random(f"demo-bulk:{seed}:{start}")
            planned = plan_bulk(
                rng, start=start, count=count, per_customer=per_customer, now=now.timestamp()
            )
            _write_bulk(writer, planned, pools, sources, rng, now, report)
            if progress:
                progress(f"  {report.customers} customers, {report.interactions} interactions")
        if hot_interactions:
            hot = hot_customer()
            if hot is None:
                rng = random.Random(f"demo-hot:{seed}")
                planned = plan_bulk(
                    rng,
                    start=0,
                    count=1,
                    per_customer=hot_interactions,
                    now=now.timestamp(),
                    user_id=lambda _: HOT_CUSTOMER_USER_ID,
                )
                planned[0].identities[2:] = [
                    ("email", "hot.customer@example.com", True, WEB),
                    ("phone", "+989199999999", True, WEB),
                ]
                planned[0].times[-1] = now.timestamp() - 60  # active a minute ago
                report.hot_customer = _write_bulk(
                    writer, planned, pools, sources, rng, now, report
                )[0]
                report.hot_created = True
            else:
                report.hot_customer = hot.pk
    report.seconds = time.perf_counter() - started
    return report


def _write_bulk(
    writer: RowWriter,
    planned: Sequence[Planned],
    pools: dict[str, list[Template]],
    sources: dict[str, int],
    rng: random.Random,
    now: datetime,
    report: BulkReport,
) -> list[int]:
    ids = writer.customers([customer_row(plan, now) for plan in planned])
    report.customers += len(ids)
    report.identities += writer.rows(
        Identity,
        IDENTITY_COLUMNS,
        (
            row
            for pk, plan in zip(ids, planned, strict=True)
            for row in identity_rows(pk, plan, sources)
        ),
    )
    report.interactions += writer.rows(
        Interaction,
        INTERACTION_COLUMNS,
        (
            row
            for pk, plan in zip(ids, planned, strict=True)
            for row in interaction_rows(pk, plan, pools[plan.person.locale], sources, rng)
        ),
    )
    return ids

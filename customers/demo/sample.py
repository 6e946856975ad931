"""The sample (default mode): the stories, and a crowd of customers around them.

The stories go through the real services; the crowd is written as rows (see ``rows``), and its
orders and merge suggestions go through the services again.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from customers import services
from customers.demo.logins import _demo_agent
from customers.demo.names import TIME_ZONES, Person, _sample_phone, make_person
from customers.demo.rows import (
    IDENTITY_COLUMNS,
    INTERACTION_COLUMNS,
    Planned,
    RowWriter,
    _at,
    _orders,
    _stage,
    _times,
    _uuid,
    customer_row,
    identity_rows,
    interaction_rows,
)
from customers.demo.shop import APP, CONSENT_WORDING, POS, WEB, ensure_sources
from customers.demo.stories import STORY_STORE_THEN_WEB, STORY_WEB_THEN_CALL, tell_stories
from customers.demo.timeline import build_pool
from customers.models import Consent, Customer, Identity, Interaction, MergeSuggestion, Source

# The sample is loaded in one transaction, so its first story's account marks all of it.
SAMPLE_MARKER = ("user_id", STORY_WEB_THEN_CALL["user_id"])
SAMPLE_SIZE = 300


@dataclass
class SampleReport:
    loaded: bool = False  # False: it was there already
    interactions: int = 0
    suggestions: int = 0
    stories: dict[str, int] = field(default_factory=dict)  # story name -> customer pk


def sample_loaded() -> bool:
    """True once the demo sample is in the database (it is loaded all or nothing)."""
    kind, value = SAMPLE_MARKER
    return Identity.objects.filter(kind=kind, value=value).exists()


def load_sample(
    *, size: int = SAMPLE_SIZE, seed: int = 1, now: datetime | None = None
) -> SampleReport:
    """Load the stories and ``size`` more customers, all or nothing; does nothing if loaded."""
    report = SampleReport()
    if sample_loaded():
        return report
    now = now or timezone.now()
    rng = random.Random(f"demo-sample:{seed}")
    with transaction.atomic():
        sources = ensure_sources()
        agent = _demo_agent()
        report.loaded = True
        report.stories = tell_stories(sources, now=now, agent=agent)
        planned = plan_sample(rng, size=size, now=now.timestamp())
        source_ids = {name: source.pk for name, source in sources.items()}
        writer = RowWriter()
        ids = writer.customers([customer_row(plan, now, orders=False) for plan in planned])
        writer.rows(
            Identity,
            IDENTITY_COLUMNS,
            (
                row
                for pk, plan in zip(ids, planned, strict=True)
                for row in identity_rows(pk, plan, source_ids)
            ),
        )
        pools = {locale: build_pool(rng, locale) for locale in TIME_ZONES}
        agent_id = agent.pk if agent else None
        report.interactions = writer.rows(
            Interaction,
            INTERACTION_COLUMNS,
            (
                row
                for pk, plan in zip(ids, planned, strict=True)
                for row in interaction_rows(
                    pk,
                    plan,
                    pools[plan.person.locale],
                    source_ids,
                    rng,
                    agent_id=agent_id,
                    orders=False,
                )
            ),
        )
        report.interactions += record_orders(ids, planned, sources)
        _write_consents(ids, planned, sources, now)
        report.suggestions = _suggest_duplicates(rng, planned, sources, now)
    return report


def record_orders(
    ids: Sequence[int], planned: Sequence[Planned], sources: dict[str, Source]
) -> int:
    """Record the sample's orders through the event log, so the commerce reactor (if any) makes
    real orders and order totals from them, as it would for a storefront's events."""
    customers = Customer.objects.in_bulk(ids)
    source_of = {"web": sources[WEB], "app": sources[APP], "store": sources[POS]}
    recorded = 0
    for pk, plan in zip(ids, planned, strict=True):
        for ts, (channel, _total, props) in zip(plan.times, plan.orders, strict=False):
            services.record_interaction(
                customer=customers[pk],
                type="track",
                channel=channel,
                occurred_at=_at(ts),
                source=source_of[channel],
                name="Order Completed",
                properties=json.loads(props),
            )
            recorded += 1
    return recorded


def _write_consents(
    ids: Sequence[int], planned: Sequence[Planned], sources: dict[str, Source], now: datetime
) -> None:
    addresses = {
        (customer_id, kind): pk
        for pk, customer_id, kind in Identity.objects.filter(
            customer_id__in=ids, kind__in=("email", "phone")
        ).values_list("pk", "customer_id", "kind")
    }
    consents = []
    for customer_id, plan in zip(ids, planned, strict=True):
        for kind, purpose, status in plan.consents:
            first, last = plan.first_seen or now, plan.last_seen or now
            at = first + (last - first) / 3
            proof: dict[str, Any] = {"form": "checkout", "ip": "203.0.113.7", "at": at.isoformat()}
            updated = at
            if status == Consent.Status.WITHDRAWN:
                updated = last
                proof["withdrawn"] = {"via": "unsubscribe_link", "at": updated.isoformat()}
            consents.append(
                Consent(
                    customer_id=customer_id,
                    identity_id=addresses.get((customer_id, kind)) if kind else None,
                    purpose=purpose,
                    status=status,
                    source=sources[WEB],
                    wording=CONSENT_WORDING[(plan.person.locale, kind or "email")],
                    proof=proof,
                    created_at=at,
                    updated_at=updated,
                )
            )
    Consent.objects.bulk_create(consents, batch_size=2000)


def _suggest_duplicates(
    rng: random.Random, planned: Sequence[Planned], sources: dict[str, Source], now: datetime
) -> int:
    """A few people type a known email on a new device: the app may not merge that by itself,
    so each becomes a second profile with an open merge suggestion for an agent."""
    with_email = [
        (plan, value) for plan in planned for kind, value, *_ in plan.identities if kind == "email"
    ]
    for plan, email in with_email[:: max(len(with_email) // 3, 1)][:3]:
        person = plan.person
        duplicate = services.identify(
            {"anonymous_id": str(_uuid(rng)), "email": email},
            traits=_traits(person),
            source=sources[APP],
        )
        services.record_interaction(
            customer=duplicate,
            type="screen",
            channel="app",
            source=sources[APP],
            name="Checkout",
            occurred_at=now - timedelta(hours=rng.randint(2, 72)),
        )
    return min(len(with_email), 3)


def _traits(person: Person) -> dict[str, Any]:
    return {
        "first_name": person.first_name,
        "last_name": person.last_name,
        "locale": person.locale,
        "timezone": person.time_zone,
        "city": person.city,
        "demo": True,
    }


# --- The crowd around the stories -----------------------------------------------------------------


def plan_sample(rng: random.Random, *, size: int, now: float) -> list[Planned]:
    """The crowd around the stories: varied identities, histories and consents."""
    used: set[str] = {STORY_WEB_THEN_CALL["phone"], STORY_STORE_THEN_WEB["phone"]}
    planned = []
    for i in range(size):
        person = make_person(rng, ("fa", "ar", "az", "en", "fa")[i % 5])
        identities: list[tuple[str, str, bool, str | None]] = []
        if rng.random() < 0.75:
            identities.append(("user_id", f"demo-user-{i + 1:05d}", False, WEB))
        for _ in range(rng.choice((1, 1, 2, 3))):
            identities.append(("anonymous_id", str(_uuid(rng)), False, rng.choice((WEB, APP))))
        if rng.random() < 0.85:
            email = _unique(used, _sample_email, rng, person)
            identities.append(("email", email, rng.random() < 0.6, WEB))
        if rng.random() < 0.8:
            phone = _unique(used, _sample_phone, rng, person.country)
            identities.append(("phone", phone, rng.random() < 0.4, rng.choice((WEB, POS))))
        if rng.random() < 0.2:
            identities.append(("loyalty_card", f"LC-{200000 + i}", True, POS))
        if rng.random() < 0.1:
            kind = "telegram" if person.locale == "fa" else "instagram"
            identities.append((kind, person.email_name.replace(".", "_"), False, None))
        order_count = min(rng.choice((0, 0, 0, 1, 1, 2, 3, 5)), 4)
        times = _times(rng, now, order_count + rng.randint(4, 36))
        traits: dict[str, Any] = {"demo": True, "city": person.city}
        if rng.random() < 0.3:
            traits["birthday"] = f"{rng.randint(1965, 2004)}-{rng.randint(1, 12):02d}-15"
        plan = Planned(
            person=person,
            public_id=_uuid(rng),
            stage=_stage(rng, order_count),
            traits=traits,
            identities=identities,
            times=times,
            orders=_orders(rng, order_count, f"D{i + 1:05d}"),
        )
        plan.consents = _consents(rng, plan)
        planned.append(plan)
    return planned


def _sample_email(rng: random.Random, person: Person) -> str:
    first, last = person.email_name.split(".")
    local = rng.choice((f"{first}.{last}", f"{first}{last}", f"{first[0]}.{last}"))
    if rng.random() < 0.4:
        local += str(rng.randint(70, 99))
    return f"{local}@{rng.choice(('example.com', 'example.org', 'example.net'))}"


def _unique(used: set[str], make: Callable[..., str], *args: Any) -> str:
    value = make(*args)
    while value in used:
        value = make(*args)
    used.add(value)
    return value


def _consents(rng: random.Random, plan: Planned) -> list[tuple[str | None, str, str]]:
    """(address kind or None for customer-wide, purpose, status): some granted, some withdrawn."""
    result: list[tuple[str | None, str, str]] = []
    kinds = {kind for kind, *_ in plan.identities}
    for kind, granted in (("email", 0.6), ("phone", 0.4)):
        if kind not in kinds:
            continue
        roll = rng.random()
        if roll < granted:
            result.append((kind, Consent.Purpose.MARKETING, Consent.Status.GRANTED))
        elif roll < granted + 0.15:
            result.append((kind, Consent.Purpose.MARKETING, Consent.Status.WITHDRAWN))
        elif roll < granted + 0.2:
            result.append((kind, Consent.Purpose.MARKETING, Consent.Status.PENDING))
        if kind == "email" and rng.random() < 0.3:
            result.append((kind, Consent.Purpose.TRANSACTIONAL, Consent.Status.GRANTED))
    if rng.random() < 0.05:
        result.append((None, Consent.Purpose.MARKETING, Consent.Status.WITHDRAWN))
    return result


def demo_counts() -> dict[str, int]:
    """Row counts the command prints after loading."""
    return {
        "customers": Customer.objects.live().count(),
        "interactions": Interaction.objects.count(),
        "open merge suggestions": MergeSuggestion.objects.filter(
            status=MergeSuggestion.Status.OPEN
        ).count(),
        "consents": Consent.objects.count(),
    }

"""The cross-channel stories of the sample, told through the real services."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from customers import consents, services
from customers.demo.shop import (
    APP,
    CALL_CENTER,
    CALLS,
    CONSENT_WORDING,
    CURRENCY,
    EMAIL_SUBJECTS,
    NOTES,
    POS,
    PRODUCTS,
    STORES,
    WEB,
)
from customers.demo.timeline import DIRECTION_OF_TYPE, SOURCE_OF_CHANNEL, _product
from customers.models import Consent, Customer, Source

# Story (a): registers on the web shop with an email, later phones the call center.
STORY_WEB_THEN_CALL = {
    "anonymous_id": "demo-anon-sara-laptop",
    "user_id": "demo-user-sara",
    "email": "sara.ahmadi@example.com",
    "phone": "+989371234567",
}
# Story (b): browses the web shop anonymously, then logs in on the app.
STORY_ANONYMOUS_THEN_APP = {
    "anonymous_id": "demo-anon-elvin-web",
    "user_id": "demo-user-elvin",
    "email": "elvin.mammadov@example.net",
}
# Story (c): buys in a store with a phone number, later types it on a new device: a suggestion.
STORY_STORE_THEN_WEB = {
    "phone": "+989371112233",
    "loyalty_card": "LC-100234",
    "anonymous_id": "demo-anon-zahra-phone",
}
DEMO = {"demo": True}  # a trait on every sample customer, so staff can find and delete them


# (days ago, type, channel, name, summary, properties): one story's events, oldest first.
Event = tuple[float, str, str, str, str, dict[str, Any]]


def _replay(
    customer: Customer,
    story: str,
    events: Sequence[Event],
    *,
    sources: dict[str, Source],
    now: datetime,
    agent: AbstractBaseUser | None,
) -> None:
    for n, (days_ago, type_, channel, name, summary, props) in enumerate(events, start=1):
        source = SOURCE_OF_CHANNEL.get(channel)
        services.record_interaction(
            customer=customer,
            type=type_,
            channel=channel,
            occurred_at=now - timedelta(days=days_ago),
            source=sources[source] if source else None,
            name=name,
            summary=summary,
            direction=DIRECTION_OF_TYPE.get(type_, "in"),
            properties=props,
            agent=agent if type_ in ("call", "note") else None,
            message_id=f"demo-story-{story}-{n}",
        )


def _order(order_id: str, *lines: tuple[tuple[str, str, str, str], int]) -> dict[str, Any]:
    products = [{**_product(*item), "quantity": quantity} for item, quantity in lines]
    total = float(sum(Decimal(item[3]) * quantity for item, quantity in lines))
    return {"order_id": order_id, "total": total, "revenue": total, "currency": CURRENCY,
            "products": products}  # fmt: skip


def tell_stories(
    sources: dict[str, Source], *, now: datetime, agent: AbstractBaseUser | None = None
) -> dict[str, int]:
    """The cross-channel journeys, told through the real services; story -> customer pk."""
    web, app, pos, call_center = (sources[name] for name in (WEB, APP, POS, CALL_CENTER))
    replay = partial(_replay, sources=sources, now=now, agent=agent)
    saffron, rug, scarf = PRODUCTS[0], PRODUCTS[2], PRODUCTS[3]

    # (a) Sara browses, registers with her email and buys; weeks later she phones the call
    # center, which finds her by that email and adds the number she calls from.
    ids = STORY_WEB_THEN_CALL
    sara = services.identify({"anonymous_id": ids["anonymous_id"]}, traits=DEMO, source=web)
    replay(sara, "sara-browse", [
        (46, "page", "web", "Home", "", {"path": "/", "title": "Home"}),
        (45.9, "track", "web", "Product Viewed", "", _product(*saffron)),
    ])  # fmt: skip
    sara = services.identify(
        {kind: ids[kind] for kind in ("anonymous_id", "user_id", "email")},
        traits={
            "first_name": "سارا",
            "last_name": "احمدی",
            "locale": "fa",
            "timezone": "Asia/Tehran",
            "city": "تهران",
            **DEMO,
        },
        source=web,
    )
    replay(sara, "sara-register", [
        (45, "identify", "web", "Signed Up", "Registered on the web shop with her email",
         {"method": "email"}),
        (44.9, "track", "web", "Product Added", "", {**_product(*saffron), "quantity": 2}),
        (44.8, "track", "web", "Order Completed", "", _order("D-1001", (saffron, 2))),
        (44, "message", "email", "Email Sent", EMAIL_SUBJECTS["fa"][2],
         {"subject": EMAIL_SUBJECTS["fa"][2], "status": "opened"}),
    ])  # fmt: skip
    consents.set_consent(
        sara,
        channel="email",
        purpose=Consent.Purpose.MARKETING,
        status=Consent.Status.GRANTED,
        source=web,
        wording=CONSENT_WORDING[("fa", "email")],
        proof={"form": "signup", "ip": "203.0.113.45"},
    )
    # The call-center tool sends the caller's number as the agent typed it, Persian digits.
    caller = services.resolve(
        {"phone": "۰۹۳۷ ۱۲۳ ۴۵۶۷", "email": " Sara.Ahmadi@Example.com "}, source=call_center
    )
    replay(caller, "sara-call", [
        (3, "call", "phone", "Inbound call", CALLS["fa"][0],
         {"duration_seconds": 240, "outcome": "resolved", "order_id": "D-1001"}),
        (2.9, "message", "sms", "SMS Sent", "کد رهگیری مرسوله: 1234567890",
         {"status": "delivered"}),
    ])  # fmt: skip
    consents.set_consent(
        caller,
        channel="sms",
        purpose=Consent.Purpose.MARKETING,
        status=Consent.Status.WITHDRAWN,
        source=call_center,
        wording=CONSENT_WORDING[("fa", "phone")],
        proof={"via": "phone call", "agent": agent.get_username() if agent else ""},
    )

    # (b) Elvin browses the web shop without logging in, then logs in on the app, which sends
    # that anonymous id with his account id: one profile with both halves of the history.
    ids = STORY_ANONYMOUS_THEN_APP
    visitor = services.identify({"anonymous_id": ids["anonymous_id"]}, traits=DEMO, source=web)
    replay(visitor, "elvin-browse", [
        (12, "page", "web", "Fashion", "", {"path": "/c/fashion", "title": "Fashion"}),
        (11.9, "track", "web", "Product Viewed", "", _product(*scarf)),
        (11.8, "track", "web", "Product Added", "", {**_product(*scarf), "quantity": 1}),
    ])  # fmt: skip
    elvin = services.identify(
        dict(ids),
        traits={
            "first_name": "Elvin",
            "last_name": "Məmmədov",
            "locale": "az",
            "timezone": "Asia/Baku",
            "city": "Bakı",
            **DEMO,
        },
        source=app,
    )
    replay(elvin, "elvin-app", [
        (10, "identify", "app", "Logged In", "Logged in on the mobile app", {}),
        (9.9, "screen", "app", "Cart", "", {"name": "Cart"}),
        (9.8, "track", "app", "Order Completed", "", _order("D-1002", (scarf, 1))),
        (2, "chat", "whatsapp", "Chat", "Kəlağayının Gəncəyə çatdırılma müddəti ilə maraqlandı",
         {"messages": 4}),
    ])  # fmt: skip

    # (c) Zahra buys in a store giving her phone and loyalty card; later she types that phone at
    # the web checkout on a new device. An untrusted match: an open merge suggestion.
    ids = STORY_STORE_THEN_WEB
    zahra_traits = {"first_name": "زهرا", "last_name": "کریمی", "locale": "fa",
                    "timezone": "Asia/Tehran", "city": "تهران", **DEMO}  # fmt: skip
    zahra = services.identify(
        {"phone": ids["phone"], "loyalty_card": ids["loyalty_card"]},
        traits=zahra_traits,
        source=pos,
    )
    replay(zahra, "zahra-store", [
        (60, "visit", "store", "Store Visit", f"Store visit: {STORES['fa']}",
         {"store": STORES["fa"]}),
        (59.9, "track", "store", "Order Completed", "", _order("S-7001", (rug, 1))),
        (59, "note", "other", "Note", NOTES["fa"][1], {}),
    ])  # fmt: skip
    zahra_web = services.identify(
        {"anonymous_id": ids["anonymous_id"], "phone": "0937 111 2233"},
        traits=zahra_traits,
        source=web,
    )
    replay(zahra_web, "zahra-web", [
        (5, "page", "web", "Cart", "", {"path": "/cart", "title": "Cart"}),
        (4.9, "track", "web", "Checkout Started", "", {}),
    ])  # fmt: skip
    return {
        "web registration, then a call": services.live(caller).pk,
        "anonymous web, then app login": services.live(elvin).pk,
        "store purchase": zahra.pk,
        "same phone on a new device (suggested)": zahra_web.pk,
    }

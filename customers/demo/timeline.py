"""Timeline templates: the kinds of row a customer's history is drawn from, per language."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

from customers.demo.shop import (
    APP,
    CALL_CENTER,
    CALLS,
    CHAT_CHANNELS,
    CHATS,
    CURRENCY,
    EMAIL_SUBJECTS,
    LANGUAGE_TAGS,
    NOTES,
    PAGES,
    POS,
    PRODUCTS,
    SCREENS,
    SMS_TEXTS,
    STORES,
    USER_AGENTS,
    WEB,
)


@dataclass(frozen=True, slots=True)
class Template:
    """One kind of timeline row; JSON columns are kept as JSON text, ready for COPY."""

    channel: str
    type: str
    direction: str
    name: str
    summary: str
    properties: str
    context: str
    source: str | None


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _context(rng: random.Random, channel: str, locale: str) -> str:
    tag = LANGUAGE_TAGS[locale]
    if channel == "web":
        ip = f"203.0.113.{rng.randrange(1, 255)}"  # TEST-NET-3
        return _dumps({"ip": ip, "locale": tag, "userAgent": rng.choice(USER_AGENTS)})
    if channel == "app":
        os_name = rng.choice(("iOS", "Android"))
        return _dumps({"app": {"name": "Demo Shop", "version": "3.4.1"}, "os": {"name": os_name}})
    return _dumps({"locale": tag}) if channel in ("store", "phone") else "{}"


def _product(sku: str, name: str, category: str, price: str) -> dict[str, Any]:
    return {
        "product_id": sku,
        "sku": sku,
        "name": name,
        "category": category,
        "price": float(price),
        "currency": CURRENCY,
    }


SOURCE_OF_CHANNEL = {"web": WEB, "app": APP, "store": POS, "phone": CALL_CENTER}
DIRECTION_OF_TYPE = {"message": "out", "note": "internal"}
# (weight, channel, type, name, summary, properties)
Spec = tuple[int, str, str, str, str, dict[str, Any]]


def build_pool(rng: random.Random, locale: str) -> list[Template]:
    """Weighted templates for one language: picking uniformly gives a realistic channel mix."""
    specs: list[Spec] = []
    for path, title in PAGES:
        url = f"https://shop.example.com/{locale}{path}"
        specs.append((3, "web", "page", title, title, {"path": path, "title": title, "url": url}))
    specs += [(2, "app", "screen", screen, screen, {"name": screen}) for screen in SCREENS]
    for item in PRODUCTS:
        product, name = _product(*item), item[1]
        specs.append((2, "web", "page", name, name, {"path": f"/p/{item[0]}", "title": name}))
        specs.append((2, "app", "screen", "Product Detail", f"Product Detail: {name}", product))
        for channel in ("web", "app"):
            specs.append(
                (2, channel, "track", "Product Viewed", f"Product Viewed: {name}", product)
            )
            added = {**product, "quantity": 1}
            specs.append((1, channel, "track", "Product Added", f"Product Added: {name}", added))
    for channel in ("web", "app"):
        specs.append((1, channel, "track", "Checkout Started", "Checkout Started", {}))
    campaigns = ("spring-sale", "abandoned-cart", "order-shipped")
    for campaign, subject in zip(campaigns, EMAIL_SUBJECTS[locale], strict=True):
        for status in ("delivered", "opened", "clicked", "bounced"):
            props = {"subject": subject, "campaign": campaign, "status": status}
            specs.append(
                (1 if status == "bounced" else 2, "email", "message", "Email Sent", subject, props)
            )
    for text in SMS_TEXTS[locale]:
        specs.append((2, "sms", "message", "SMS Sent", text, {"text": text, "status": "delivered"}))
    for i, summary in enumerate(CALLS[locale]):
        props = {"duration_seconds": 90 + 60 * i, "outcome": "resolved"}
        specs.append((1, "phone", "call", "Inbound call", summary, props))
    for summary in CHATS[locale]:
        specs.append((1, CHAT_CHANNELS[locale], "chat", "Chat", summary, {"messages": 6}))
    store = STORES[locale]
    specs.append((2, "store", "visit", "Store Visit", f"Store visit: {store}", {"store": store}))
    specs += [(1, "other", "note", "Note", summary, {}) for summary in NOTES[locale]]
    return [
        Template(
            channel=channel,
            type=type_,
            direction=DIRECTION_OF_TYPE.get(type_, "in"),
            name=name,
            summary=summary[:500],
            properties=_dumps(props),
            context=_context(rng, channel, locale),
            source=SOURCE_OF_CHANNEL.get(channel),
        )
        for weight, channel, type_, name, summary, props in specs
        for _ in range(weight)
    ]

"""A plain-Python reading of the segment rule language, row by row: what the SQL compiler must
agree with. Slow on purpose and written for clarity, never used by the product."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from customers.consents import ADDRESS_KIND


@dataclass
class Person:
    pk: int
    first_name: str = ""
    last_name: str = ""
    locale: str = ""
    time_zone: str = ""
    stage: str = "awareness"
    traits: dict[str, Any] = field(default_factory=dict)
    last_seen_at: dt.datetime | None = None
    order_count: int = 0
    total_spent: Decimal = Decimal(0)
    # (kind, bounced, consent status on the address or None)
    identities: list[tuple[str, bool, str | None]] = field(default_factory=list)
    wide_consent: str | None = None
    # (name, occurred_at, properties)
    events: list[tuple[str, dt.datetime, dict[str, Any]]] = field(default_factory=list)
    # (status, lines, changed_at)
    carts: list[tuple[str, int, dt.datetime]] = field(default_factory=list)
    lists: set[int] = field(default_factory=set)  # static segments they are on


def matches(
    node: dict[str, Any], person: Person, now: dt.datetime, segments: dict[int, Any]
) -> bool:
    if "all" in node:
        return all(matches(child, person, now, segments) for child in node["all"])
    if "any" in node:
        return any(matches(child, person, now, segments) for child in node["any"])
    kind, op, value = node["field"], node["op"], node.get("value")
    if kind in ("first_name", "last_name", "locale", "time_zone"):
        text = getattr(person, kind)
        return {
            "eq": lambda: text == value,
            "ne": lambda: text != value,
            "contains": lambda: value.lower() in text.lower(),
            "in": lambda: text in value,
            "is_set": lambda: text != "",
            "not_set": lambda: text == "",
        }[op]()
    if kind == "stage":
        return (person.stage in value) == (op == "in")
    if kind == "trait":
        has = node["key"] in person.traits
        got = person.traits.get(node["key"])
        same = has and type(got) is type(value) and got == value
        return {
            "eq": lambda: same,
            "ne": lambda: not same,
            "in": lambda: has and any(type(got) is type(v) and got == v for v in value),
            "is_set": lambda: has,
            "not_set": lambda: not has,
        }[op]()
    if kind == "identity":
        return any(k == node["kind"] for k, _, _ in person.identities) == (op == "present")
    if kind == "consent":
        reachable = person.wide_consent != "withdrawn" and any(
            k == ADDRESS_KIND[node["channel"]]
            and not bounced
            and status != "withdrawn"
            and "granted" in (status, person.wide_consent)
            for k, bounced, status in person.identities
        )
        return reachable == (op == "granted")
    if kind == "last_seen":
        recent = person.last_seen_at >= now - dt.timedelta(days=value)
        return recent == (op == "within_days")
    if kind in ("order_count", "total_spent"):
        mine, theirs = Decimal(str(getattr(person, kind))), Decimal(str(value))
        return {
            "eq": mine == theirs, "ne": mine != theirs, "gt": mine > theirs,
            "gte": mine >= theirs, "lt": mine < theirs, "lte": mine <= theirs,
        }[op]  # fmt: skip
    if kind == "event":
        since = now - dt.timedelta(days=node["days"])
        wanted = node.get("properties") or {}
        times = sum(
            1
            for name, at, props in person.events
            if name == node["name"]
            and at >= since
            and all(k in props and type(props[k]) is type(v) and props[k] == v
                    for k, v in wanted.items())
        )  # fmt: skip
        return (times >= node["count"]) == (op == "at_least")
    if kind == "cart":
        live = [(lines, changed) for status, lines, changed in person.carts if status == "active"]
        if op == "idle_hours":
            cutoff = now - dt.timedelta(hours=value)
            return any(lines and changed <= cutoff for lines, changed in live)
        return any(lines for lines, _ in live) == (op == "has_items")
    if kind == "segment":
        segment = segments[value]
        if segment["static"]:
            inside = value in person.lists
        else:
            inside = matches(segment["rules"], person, now, segments)
        return inside == (op == "in")
    raise AssertionError(f"no reference for {kind}")

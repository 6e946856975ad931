"""Profile updates: traits, names, and the normalised search column."""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import phonenumbers
from django.conf import settings
from django.db import transaction

from customers.bulk import update_rows
from customers.identity import normalize_identifier, normalize_search_text
from customers.models import (
    Customer,
    Identity,
)

if TYPE_CHECKING:
    pass

TRAIT_FIELDS = {
    "first_name": "first_name",
    "firstName": "first_name",
    "last_name": "last_name",
    "lastName": "last_name",
    "locale": "locale",
    "language": "locale",
    "timezone": "time_zone",
    "time_zone": "time_zone",
}


IDENTIFIER_TRAITS = {
    "email": "email",
    "phone": "phone",
    "userId": "user_id",
    "user_id": "user_id",
    "anonymousId": "anonymous_id",
    "anonymous_id": "anonymous_id",
}


def _is_identifier_trait(key: str, value: object) -> bool:
    """An email/phone/id trait that became an identity; one we cannot parse stays a trait."""
    kind = IDENTIFIER_TRAITS.get(key)
    return kind is not None and normalize_identifier(kind, value) is not None


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def merge_traits(customer: Customer, traits: Mapping[str, Any]) -> set[str]:
    """Set names, locale and time zone from known traits on the (unsaved) customer, and merge
    the rest in as custom traits; returns the changed field names. No database."""
    changed: set[str] = set()
    languages = {code for code, _ in settings.LANGUAGES}
    for key, value in traits.items():
        field = TRAIT_FIELDS.get(key)
        if field is None or not isinstance(value, str):
            continue
        value = value.strip()
        if field == "locale":
            value = value.replace("_", "-").split("-")[0].lower()
            if value not in languages:
                continue
        if field == "time_zone" and value not in _time_zones():
            continue  # a zone we cannot compute quiet hours in (or longer than the column)
        if value and getattr(customer, field) != value:
            setattr(customer, field, value[:150])
            changed.add(field)
    if "name" in traits and isinstance(traits["name"], str) and not customer.first_name:
        first, _, last = traits["name"].strip().partition(" ")
        customer.first_name, customer.last_name = first[:150], last[:150]
        changed |= {"first_name", "last_name"}
    custom = {
        k: v
        for k, v in traits.items()
        if k not in TRAIT_FIELDS and k != "name" and not _is_identifier_trait(k, v)
    }
    if custom and any(customer.traits.get(k) != v for k, v in custom.items()):
        customer.traits = {**customer.traits, **custom}
        changed.add("traits")
    return changed


def apply_traits(customer: Customer, traits: Mapping[str, Any]) -> Customer:
    """Set names, locale and time zone from known traits; keep the rest as custom traits."""
    changed = merge_traits(customer, traits)
    if changed:
        customer.save(update_fields=[*sorted(changed), "updated_at"])
        if changed & {"first_name", "last_name"}:
            refresh_search_text([customer.pk])
    return customer


def update_profile(
    customer: Customer, *, fields: Mapping[str, Any], traits: Mapping[str, Any]
) -> Customer:
    """Set profile fields (names, locale, time zone) and merge custom traits in."""
    allowed = {"first_name", "last_name", "locale", "time_zone"}
    with transaction.atomic(savepoint=False):
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        changed = [name for name, value in fields.items() if name in allowed]
        for name in changed:
            setattr(customer, name, fields[name])
        if traits:
            customer.traits = {**customer.traits, **traits}
            changed.append("traits")
        if changed:
            customer.save(update_fields=[*changed, "updated_at"])
            refresh_search_text([customer.pk])
        return customer


def _phone_forms(e164: str) -> list[str]:
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return [e164]
    return [e164, f"0{number.national_number}"]


def search_text_for(first_name: str, last_name: str, identities: Iterable[tuple[str, str]]) -> str:
    """The text the admin search looks in: names and identifiers, normalised like a query."""
    parts = [first_name, last_name]
    for kind, value in identities:
        parts.extend(_phone_forms(value) if kind == "phone" else [value])
    return normalize_search_text(" ".join(p for p in parts if p))


def refresh_search_text(customer_ids: Iterable[int]) -> None:
    """Recompute the search column of these customers from their names and identities
    (two reads and one write, however many customers)."""
    ids = list(customer_ids)
    by_customer: dict[int, list[tuple[str, str]]] = {pk: [] for pk in ids}
    for customer_id, kind, value in Identity.objects.filter(customer_id__in=ids).values_list(
        "customer_id", "kind", "value"
    ):
        if kind != "anonymous_id":
            by_customer[customer_id].append((kind, value))
    people = list(Customer.objects.filter(pk__in=ids).only("pk", "first_name", "last_name"))
    for person in people:
        person.search_text = search_text_for(
            person.first_name, person.last_name, by_customer[person.pk]
        )
    update_rows(people, ["search_text"])

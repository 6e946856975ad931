"""Finding customers by identifiers, and following tombstones to the live customer."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from django.db.models import Q

from customers.identity import normalize_identifier
from customers.models import (
    Customer,
    Identity,
)

if TYPE_CHECKING:
    pass

# Kinds that say "this is the device/account talking"; the rest are contact addresses.
ACCOUNT_KINDS = ("user_id", "anonymous_id")


ADDRESS_KINDS = ("email", "phone")


KIND_ORDER = {"user_id": 0, "anonymous_id": 1, "email": 2, "phone": 3}

# Customer fields a merge may fill in on the survivor, and that an undo puts back.


def normalize_identifiers(
    identifiers: Mapping[str, object], *, region: str | None = None
) -> dict[str, str]:
    """Normalised (kind -> value), junk and unparseable values dropped, in a fixed kind order."""
    result: dict[str, str] = {}
    for kind, raw in identifiers.items():
        if raw is None or raw == "":
            continue
        value = normalize_identifier(kind, raw, region=region)
        if value is not None:
            result[kind] = value
    return dict(sorted(result.items(), key=lambda item: (KIND_ORDER.get(item[0], 9), item[0])))


def find_customer(identifiers: Mapping[str, object]) -> Customer | None:
    """The live customer holding the first of these identifiers that is known, or None."""
    pairs = normalize_identifiers(identifiers)
    if not pairs:
        return None
    rows = {
        (i.kind, i.value): i.customer
        for i in Identity.objects.select_related("customer").filter(_pairs_q(pairs))
    }
    for pair in pairs.items():
        if pair in rows:
            return live(rows[pair])
    return None


def live(customer: Customer, *, refresh: bool = False) -> Customer:
    """Follow a tombstone to the customer it was merged into (``refresh``: re-read it first)."""
    if refresh:
        merged_into_id = (
            Customer.objects.filter(pk=customer.pk).values_list("merged_into_id", flat=True).first()
        )
        if merged_into_id is None:
            return customer
        customer = Customer.objects.get(pk=merged_into_id)
    seen = 0
    while customer.merged_into_id is not None and seen < 20:
        customer = Customer.objects.get(pk=customer.merged_into_id)
        seen += 1
    return customer


def _pairs_q(pairs: Mapping[str, str]) -> Q:
    q = Q()
    for kind, value in pairs.items():
        q |= Q(kind=kind, value=value)
    return q


def _user_ids(customer_ids: Iterable[int]) -> dict[int, str]:
    return dict(
        Identity.objects.filter(customer_id__in=list(customer_ids), kind="user_id").values_list(
            "customer_id", "value"
        )
    )

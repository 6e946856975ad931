"""Identity resolution: which one customer an event's identifiers belong to (trust rules in
docs/decisions.md)."""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils.translation import gettext as _

from customers.errors import DomainError
from customers.models import (
    Customer,
    Identity,
    Source,
)
from customers.services.lookup import (
    ACCOUNT_KINDS,
    ADDRESS_KINDS,
    _pairs_q,
    _user_ids,
    live,
    normalize_identifiers,
)
from customers.services.merge import merge, suggest_merge
from customers.services.profile import apply_traits, refresh_search_text
from customers.services.suppression import without_erased

if TYPE_CHECKING:
    pass

logger = logging.getLogger(__name__)


def resolve(
    identifiers: Mapping[str, object],
    *,
    source: Source | None = None,
    verified: Collection[str] = (),
    create: bool = True,
) -> Customer:
    """Find or create the one customer these identifiers belong to, applying the trust rules.

    Auto-merges only on trusted links (same user_id; anonymous_id together with user_id;
    a verified email/phone, or one sent by a trusted source); any other match to a second
    profile becomes a MergeSuggestion. Never gives a customer two user_ids. Safe under
    concurrency: a lost insert race is retried. Identifiers of erased customers (the
    suppression list) are dropped and never stored again. Raises DomainError("no_identifier"),
    or DomainError("identifier_erased") when every identifier given is on the list.
    """
    pairs, dropped = without_erased(normalize_identifiers(identifiers))
    if not pairs and dropped:
        raise DomainError(
            "identifier_erased",
            _("These identifiers belong to an erased customer and are not stored again."),
            status=422,
        )
    if not pairs:
        raise DomainError("no_identifier", _("No usable identifier (user id, anonymous id, ...)."))
    for attempt in range(4):
        try:
            with transaction.atomic():
                return _resolve(pairs, source=source, verified=set(verified), create=create)
        except IntegrityError:
            if attempt == 3:
                raise
            logger.info("customers.resolve_retry attempt=%s", attempt)
    raise AssertionError("unreachable")


def _is_trusted(kind: str, *, pairs: Mapping[str, str], source: Source | None, verified: set[str]):
    if kind == "user_id":
        return True
    if kind == "anonymous_id":
        return "user_id" in pairs  # a login: this device is that account
    if kind in verified:
        return True
    return kind in ADDRESS_KINDS and source is not None and source.trusted


def _resolve(
    pairs: Mapping[str, str], *, source: Source | None, verified: set[str], create: bool
) -> Customer:
    existing = list(Identity.objects.select_related("customer").filter(_pairs_q(pairs)))
    matched: dict[str, Customer] = {i.kind: live(i.customer) for i in existing}
    identity_rows = {i.kind: i for i in existing}
    if len(existing) == len(pairs) and len({c.pk for c in matched.values()}) == 1:
        # Every identifier is known and names one customer: the common case, one query.
        anchor = next(iter(matched.values()))
        _attach(anchor, pairs, matched=identity_rows, source=source, verified=verified)
        return anchor
    user_id = pairs.get("user_id")
    user_ids = _user_ids(c.pk for c in matched.values()) if matched else {}

    def compatible(customer: Customer) -> bool:
        held = user_ids.get(customer.pk)
        return user_id is None or held is None or held == user_id

    anchor: Customer | None = matched.get("user_id")
    if anchor is None:
        has_account_kind = any(kind in pairs for kind in ACCOUNT_KINDS)
        for kind in pairs:
            candidate = matched.get(kind)
            if candidate is None or not compatible(candidate):
                continue
            # A storefront device is anchored by its own ids; an address typed into a form on
            # it must not pull the device into somebody else's profile.
            if (
                has_account_kind
                and kind not in ACCOUNT_KINDS
                and not _is_trusted(kind, pairs=pairs, source=source, verified=verified)
            ):
                continue
            anchor = candidate
            break
    if anchor is None:
        if not create:
            raise DomainError(
                "customer_not_found", _("No customer has these identifiers."), status=404
            )
        anchor = Customer.objects.create()
        user_ids[anchor.pk] = ""

    # Every other matched profile: merge when the link is trusted, suggest otherwise.
    merged_away: set[int] = set()
    for kind, other in matched.items():
        if other.pk == anchor.pk or other.pk in merged_away:
            continue
        trusted = _is_trusted(kind, pairs=pairs, source=source, verified=verified)
        # The anchor is about to hold this call's user_id too, if it holds none yet.
        anchor_user_id = user_ids.get(anchor.pk) or user_id
        held = {anchor_user_id, user_ids.get(other.pk) or None} - {None}
        if trusted and len(held) <= 1:
            first, second = sorted([anchor, other], key=lambda c: (c.created_at, c.pk))
            merge(survivor=first, duplicate=second, reason=f"{kind} link")
            merged_away.add(second.pk)
            anchor = Customer.objects.get(pk=first.pk)
            user_ids[anchor.pk] = next(iter(held), "")
        elif len(held) <= 1:
            suggest_merge(anchor, other, kind=kind, value=pairs[kind])

    _attach(anchor, pairs, matched=identity_rows, source=source, verified=verified)
    return anchor


def _attach(
    customer: Customer,
    pairs: Mapping[str, str],
    *,
    matched: Mapping[str, Identity],
    source: Source | None,
    verified: set[str],
) -> None:
    counts: dict[str, int] = {}
    searchable_added = False
    for kind, value in pairs.items():
        is_verified = kind in verified or (
            kind in ADDRESS_KINDS and source is not None and source.trusted
        )
        row = matched.get(kind)
        if row is not None:
            if live(row.customer).pk == customer.pk and is_verified and not row.verified:
                Identity.objects.filter(pk=row.pk).update(verified=True)
            continue
        if not counts:
            counts = dict(
                Identity.objects.filter(customer=customer)
                .order_by()
                .values("kind")
                .annotate(n=Count("pk"))
                .values_list("kind", "n")
            )
        limit = settings.IDENTITY_LIMITS.get(kind, settings.IDENTITY_DEFAULT_LIMIT)
        if counts.get(kind, 0) >= limit:
            logger.info("customers.identity_limit kind=%s customer=%s", kind, customer.pk)
            continue
        # A lost race here raises IntegrityError; resolve() retries in its own savepoint.
        Identity.objects.create(
            customer=customer, kind=kind, value=value, verified=is_verified, source=source
        )
        counts[kind] = counts.get(kind, 0) + 1
        searchable_added = searchable_added or kind != "anonymous_id"
    if searchable_added:
        refresh_search_text([customer.pk])


def identify(
    identifiers: Mapping[str, object],
    *,
    traits: Mapping[str, Any] | None = None,
    source: Source | None = None,
    verified: Collection[str] = (),
) -> Customer:
    """Resolve the customer and apply the traits they sent (names, locale, custom traits)."""
    with transaction.atomic():
        customer = resolve(identifiers, source=source, verified=verified)
        if traits:
            apply_traits(customer, traits)
        return customer


def alias(*, previous_id: str, user_id: str, source: Source | None = None) -> Customer:
    """Link an earlier id (a device or cookie) to an account, as Segment's alias call does."""
    return resolve({"user_id": user_id, "anonymous_id": previous_id}, source=source)

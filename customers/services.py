"""Write use-cases of the customers app: resolve, merge, undo, record interactions.

Every function here owns its transaction. Locks on customers are always taken in primary-key
order, so two merges (or a merge and an undo) over the same people cannot deadlock.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import phonenumbers
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.db.models.functions import Greatest, Least
from django.utils import timezone

from customers import reactors, relocation
from customers.errors import DomainError
from customers.identity import normalize_identifier, normalize_search_text
from customers.models import (
    Customer,
    Identity,
    Interaction,
    MergeRecord,
    MergeSuggestion,
    Source,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)

# Kinds that say "this is the device/account talking"; the rest are contact addresses.
ACCOUNT_KINDS = ("user_id", "anonymous_id")
ADDRESS_KINDS = ("email", "phone")
KIND_ORDER = {"user_id": 0, "anonymous_id": 1, "email": 2, "phone": 3}

# Customer fields a merge may fill in on the survivor, and that an undo puts back.
MERGED_FIELDS = (
    "first_name",
    "last_name",
    "locale",
    "time_zone",
    "stage",
    "traits",
    "first_seen_at",
    "last_seen_at",
    "order_count",
    "total_spent",
    "first_order_at",
    "last_order_at",
)
STAGE_ORDER = [choice for choice, _ in Customer.Stage.choices]


# --- Identity resolution ----------------------------------------------------------------------


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
    concurrency: a lost insert race is retried. Raises DomainError("no_identifier").
    """
    pairs = normalize_identifiers(identifiers)
    if not pairs:
        raise DomainError("no_identifier", "No usable identifier (user id, anonymous id, ...).")
    for attempt in range(4):
        try:
            with transaction.atomic():
                return _resolve(pairs, source=source, verified=set(verified), create=create)
        except IntegrityError:
            if attempt == 3:
                raise
            logger.info("customers.resolve_retry attempt=%s", attempt)
    raise AssertionError("unreachable")


def _pairs_q(pairs: Mapping[str, str]) -> Q:
    q = Q()
    for kind, value in pairs.items():
        q |= Q(kind=kind, value=value)
    return q


def _is_trusted(kind: str, *, pairs: Mapping[str, str], source: Source | None, verified: set[str]):
    if kind == "user_id":
        return True
    if kind == "anonymous_id":
        return "user_id" in pairs  # a login: this device is that account
    if kind in verified:
        return True
    return kind in ADDRESS_KINDS and source is not None and source.trusted


def _user_ids(customer_ids: Iterable[int]) -> dict[int, str]:
    return dict(
        Identity.objects.filter(customer_id__in=list(customer_ids), kind="user_id").values_list(
            "customer_id", "value"
        )
    )


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
                "customer_not_found", "No customer has these identifiers.", status=404
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
        with transaction.atomic():
            Identity.objects.create(
                customer=customer, kind=kind, value=value, verified=is_verified, source=source
            )
        counts[kind] = counts.get(kind, 0) + 1
        searchable_added = searchable_added or kind != "anonymous_id"
    if searchable_added:
        refresh_search_text([customer.pk])


def suggest_merge(a: Customer, b: Customer, *, kind: str, value: str) -> MergeSuggestion | None:
    """Open one suggestion per pair, unless agents already rejected this pair for this value."""
    first, second = sorted([a, b], key=lambda c: c.pk)
    pair = MergeSuggestion.objects.filter(customer=first, other=second)
    if pair.filter(
        Q(status=MergeSuggestion.Status.OPEN)
        | Q(status=MergeSuggestion.Status.REJECTED, identity_kind=kind, identity_value=value)
    ).exists():
        return None
    try:
        with transaction.atomic():
            return MergeSuggestion.objects.create(
                customer=first, other=second, identity_kind=kind, identity_value=value
            )
    except IntegrityError:  # another request opened it a moment ago
        return None


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


def apply_traits(customer: Customer, traits: Mapping[str, Any]) -> Customer:
    """Set names, locale and time zone from known traits; keep the rest as custom traits."""
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
    with transaction.atomic():
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
    """Recompute the search column of these customers from their names and identities."""
    ids = list(customer_ids)
    by_customer: dict[int, list[tuple[str, str]]] = {pk: [] for pk in ids}
    for customer_id, kind, value in Identity.objects.filter(customer_id__in=ids).values_list(
        "customer_id", "kind", "value"
    ):
        if kind != "anonymous_id":
            by_customer[customer_id].append((kind, value))
    for pk, first, last in Customer.objects.filter(pk__in=ids).values_list(
        "pk", "first_name", "last_name"
    ):
        Customer.objects.filter(pk=pk).update(
            search_text=search_text_for(first, last, by_customer[pk])
        )


# --- Merge and undo -----------------------------------------------------------------------------


def _lock(*customer_ids: int) -> dict[int, Customer]:
    """Lock customers in primary-key order and return fresh copies."""
    rows = (
        Customer.objects.select_for_update(no_key=True).filter(pk__in=customer_ids).order_by("pk")
    )
    return {c.pk: c for c in rows}


def _snapshot(customer: Customer) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in MERGED_FIELDS:
        field = Customer._meta.get_field(name)
        values[name] = field.value_to_string(customer) if name != "traits" else customer.traits
    return values


def _restore(customer: Customer, snapshot: Mapping[str, Any]) -> None:
    for name, raw in snapshot.items():
        field = Customer._meta.get_field(name)
        value = raw if name == "traits" else field.to_python(raw if raw != "" else None)
        if value is None and not field.null:
            value = field.get_default()
        setattr(customer, name, value)


def _unmerge_fields(survivor: Customer, duplicate: Customer, record: MergeRecord) -> None:
    """Put back what the merge wrote on the survivor, keeping what changed since: a field still
    holding the merged value returns to its prior value; order aggregates give back exactly
    the duplicate's share (its orders move back with it)."""
    now = _snapshot(survivor)
    restore = {
        name: value
        for name, value in record.survivor_before.items()
        if now.get(name) == record.survivor_after.get(name, now.get(name))
    }
    _restore(survivor, restore)
    if "order_count" not in restore:
        survivor.order_count = max(survivor.order_count - duplicate.order_count, 0)
    if "total_spent" not in restore:
        survivor.total_spent -= duplicate.total_spent


def _combine(survivor: Customer, duplicate: Customer) -> None:
    for name in ("first_name", "last_name", "locale", "time_zone"):
        if not getattr(survivor, name):
            setattr(survivor, name, getattr(duplicate, name))
    survivor.traits = {**duplicate.traits, **survivor.traits}
    survivor.stage = max(survivor.stage, duplicate.stage, key=STAGE_ORDER.index)
    survivor.order_count += duplicate.order_count
    survivor.total_spent += duplicate.total_spent
    for name, pick in (
        ("first_seen_at", min),
        ("first_order_at", min),
        ("last_seen_at", max),
        ("last_order_at", max),
    ):
        values = [v for v in (getattr(survivor, name), getattr(duplicate, name)) if v]
        setattr(survivor, name, pick(values) if values else None)


def merge(
    *,
    survivor: Customer,
    duplicate: Customer,
    by: AbstractBaseUser | None = None,
    reason: str = "",
) -> MergeRecord:
    """Move everything from ``duplicate`` to ``survivor`` in one transaction; keep a tombstone.

    Every registered relocation moves its rows; consents combine with opt-out winning. Raises
    DomainError when either side is already merged or both hold different user_ids.
    """
    with transaction.atomic():
        if survivor.pk == duplicate.pk:
            raise DomainError("same_customer", "A customer cannot be merged into itself.")
        locked = _lock(survivor.pk, duplicate.pk)
        survivor, duplicate = locked[survivor.pk], locked[duplicate.pk]
        if survivor.is_merged or duplicate.is_merged:
            raise DomainError("already_merged", "One of these customers was merged already.")
        held = set(_user_ids([survivor.pk, duplicate.pk]).values())
        if len(held) > 1:
            raise DomainError(
                "conflicting_user_ids",
                "Both customers have an account id; two accounts are never one customer.",
            )
        record = MergeRecord(
            survivor=survivor, duplicate=duplicate, merged_by=by, reason=reason[:200]
        )
        record.survivor_before = _snapshot(survivor)
        _combine(survivor, duplicate)
        survivor.save()
        record.survivor_after = _snapshot(survivor)
        moved: dict[str, Any] = {}
        for label, handler in relocation.handlers():
            moved[label] = handler.move(duplicate=duplicate, survivor=survivor).as_json()
        tombstones = list(
            Customer.objects.filter(merged_into=duplicate).values_list("pk", flat=True)
        )
        Customer.objects.filter(pk__in=tombstones).update(merged_into=survivor)
        moved["tombstones"] = tombstones
        record.moved = moved
        record.consent_before = (
            moved.get("customers.consent", {}).get("state", {}).get("survivor_before", [])
        )
        duplicate.merged_into, duplicate.merged_at = survivor, timezone.now()
        duplicate.save(update_fields=["merged_into", "merged_at", "updated_at"])
        record.save()
        MergeSuggestion.objects.filter(
            Q(customer=duplicate, other=survivor) | Q(customer=survivor, other=duplicate),
            status=MergeSuggestion.Status.OPEN,
        ).update(status=MergeSuggestion.Status.ACCEPTED, resolved_at=timezone.now(), resolved_by=by)
        refresh_search_text([survivor.pk, duplicate.pk])
        logger.info(
            "customers.merged survivor=%s duplicate=%s record=%s",
            survivor.pk,
            duplicate.pk,
            record.pk,
        )
        return record


def oldest_first(customers: Iterable[Customer]) -> list[Customer]:
    """The deterministic merge order: the oldest customer survives."""
    return sorted(customers, key=lambda c: (c.created_at, c.pk))


def merge_many(
    customers: Iterable[Customer], *, by: AbstractBaseUser | None = None, reason: str = ""
) -> list[MergeRecord]:
    """Merge several customers into the oldest of them, all or nothing."""
    ordered = oldest_first(customers)
    if len(ordered) < 2:
        raise DomainError("too_few", "Choose at least two customers to merge.")
    with transaction.atomic():
        return [
            merge(survivor=ordered[0], duplicate=other, by=by, reason=reason)
            for other in ordered[1:]
        ]


def undo_blocker(record: MergeRecord) -> MergeRecord | None:
    """The later merge that depends on this one (and so blocks its undo), if any."""
    return (
        MergeRecord.objects.filter(pk__gt=record.pk, undone_at__isnull=True)
        .filter(
            Q(survivor_id__in=[record.survivor_id, record.duplicate_id])
            | Q(duplicate_id__in=[record.survivor_id, record.duplicate_id])
        )
        .order_by("pk")
        .first()
    )


def undo_merge(record: MergeRecord, *, by: AbstractBaseUser | None = None) -> Customer:
    """Put back exactly what one merge moved; returns the revived duplicate.

    Rows that arrived on the survivor after the merge stay with it. Raises DomainError when
    the merge was undone already or a later merge depends on it (undo that one first).
    """
    with transaction.atomic():
        record = MergeRecord.objects.select_for_update().get(pk=record.pk)
        if record.undone_at is not None:
            raise DomainError("already_undone", "This merge was undone already.")
        if blocker := undo_blocker(record):
            raise DomainError(
                "merge_has_dependants",
                f"A later merge (#{blocker.pk}) involves these customers; undo it first.",
            )
        locked = _lock(record.survivor_id, record.duplicate_id)
        survivor, duplicate = locked[record.survivor_id], locked[record.duplicate_id]
        for label, handler in reversed(relocation.handlers()):
            data = record.moved.get(label)
            if data:
                handler.undo(
                    relocation.Moved(ids=data["ids"], state=data.get("state", {})),
                    duplicate=duplicate,
                    survivor=survivor,
                )
        Customer.objects.filter(pk__in=record.moved.get("tombstones", [])).update(
            merged_into=duplicate
        )
        _unmerge_fields(survivor, duplicate, record)
        survivor.save()
        duplicate.merged_into, duplicate.merged_at = None, None
        duplicate.save(update_fields=["merged_into", "merged_at", "updated_at"])
        record.undone_at, record.undone_by = timezone.now(), by
        record.save(update_fields=["undone_at", "undone_by"])
        refresh_search_text([survivor.pk, duplicate.pk])
        logger.info("customers.merge_undone record=%s", record.pk)
        return duplicate


def accept_suggestion(
    suggestion: MergeSuggestion, *, by: AbstractBaseUser | None = None
) -> MergeRecord | None:
    """Merge the two profiles of a suggestion (the oldest survives) and close it."""
    with transaction.atomic():
        suggestion = MergeSuggestion.objects.select_for_update().get(pk=suggestion.pk)
        if suggestion.status != MergeSuggestion.Status.OPEN:
            raise DomainError("suggestion_closed", "This suggestion was resolved already.")
        first, second = oldest_first([live(suggestion.customer), live(suggestion.other)])
        record = None
        if first.pk != second.pk:
            record = merge(
                survivor=first,
                duplicate=second,
                by=by,
                reason=f"suggestion: {suggestion.identity_kind}",
            )
        MergeSuggestion.objects.filter(pk=suggestion.pk).update(
            status=MergeSuggestion.Status.ACCEPTED, resolved_at=timezone.now(), resolved_by=by
        )
        return record


def reject_suggestion(suggestion: MergeSuggestion, *, by: AbstractBaseUser | None = None) -> None:
    """Close a suggestion without merging; the same pair and value is not suggested again."""
    updated = MergeSuggestion.objects.filter(
        pk=suggestion.pk, status=MergeSuggestion.Status.OPEN
    ).update(status=MergeSuggestion.Status.REJECTED, resolved_at=timezone.now(), resolved_by=by)
    if not updated:
        raise DomainError("suggestion_closed", "This suggestion was resolved already.")


# --- The event log ------------------------------------------------------------------------------


def summarize(type_: str, name: str, properties: Mapping[str, Any]) -> str:
    """A one-line summary for the timeline when the caller gave none."""
    if type_ == Interaction.Type.PAGE:
        title = properties.get("title") or properties.get("path") or properties.get("url") or ""
        return str(title or name)[:500]
    if type_ == Interaction.Type.SCREEN:
        return str(name or properties.get("name") or "")[:500]
    label = name
    for key in ("name", "sku", "product_id", "order_id"):
        if properties.get(key):
            label = f"{name}: {properties[key]}" if name else str(properties[key])
            break
    return str(label)[:500]


def record_interaction(
    *,
    customer: Customer,
    type: str,
    channel: str,
    occurred_at: datetime | None = None,
    source: Source | None = None,
    name: str = "",
    summary: str = "",
    direction: str = Interaction.Direction.INBOUND,
    properties: Mapping[str, Any] | None = None,
    context: Mapping[str, Any] | None = None,
    agent: AbstractBaseUser | None = None,
    message_id: str = "",
) -> tuple[Interaction, bool]:
    """Append one touchpoint to the customer's timeline and run the registered reactors.

    Idempotent on (source, message_id): a replay returns the first row and ``created=False``
    and changes nothing. Writes on a tombstone land on its survivor.
    """
    now = timezone.now()
    occurred_at = occurred_at or now
    props = dict(properties or {})
    row = Interaction(
        source=source,
        channel=channel,
        type=type,
        direction=direction,
        name=name[:200],
        summary=(summary or summarize(type, name, props))[:500],
        occurred_at=occurred_at,
        received_at=now,
        properties=props,
        context=dict(context or {}),
        agent=agent,
        message_id=message_id[:200] if source is not None else "",
    )
    # No savepoint of our own: a failure here (a reactor's, say) aborts the caller's unit.
    with transaction.atomic(savepoint=False):
        # One UPDATE both moves first/last seen and proves the customer is live; a tombstone
        # matches nothing, and the write follows it to its survivor.
        seen = {
            "first_seen_at": Least("first_seen_at", occurred_at),
            "last_seen_at": Greatest("last_seen_at", occurred_at),
        }
        if not Customer.objects.filter(pk=customer.pk, merged_into__isnull=True).update(**seen):
            customer = live(customer, refresh=True)
            Customer.objects.filter(pk=customer.pk).update(**seen)
        row.customer = customer
        if not row.message_id:
            row.save(force_insert=True)
        else:
            try:
                with transaction.atomic():
                    row.save(force_insert=True)
            except IntegrityError:
                existing = Interaction.objects.filter(
                    source=source, message_id=row.message_id
                ).first()
                if existing is None:
                    raise
                return existing, False
        interaction = row
        reactors.dispatch(interaction)
        return interaction, True

"""Merging two customers, undoing a merge, and merge suggestions.

Locks on customers are always taken in primary-key order, so two merges (or a merge and an
undo) over the same people cannot deadlock.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from customers import relocation
from customers.errors import DomainError
from customers.models import (
    Customer,
    MergeRecord,
    MergeSuggestion,
)
from customers.services.lookup import _user_ids, live
from customers.services.profile import refresh_search_text
from security import audit

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)

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
            raise DomainError("same_customer", _("A customer cannot be merged into itself."))
        locked = _lock(survivor.pk, duplicate.pk)
        survivor, duplicate = locked[survivor.pk], locked[duplicate.pk]
        if survivor.is_merged or duplicate.is_merged:
            raise DomainError("already_merged", _("One of these customers was merged already."))
        if survivor.is_erased or duplicate.is_erased:
            raise DomainError("customer_erased", _("An erased customer is not merged any more."))
        held = set(_user_ids([survivor.pk, duplicate.pk]).values())
        if len(held) > 1:
            raise DomainError(
                "conflicting_user_ids",
                _("Both customers have an account id; two accounts are never one customer."),
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
        if by is not None:
            audit.record(
                audit.Action.MERGE,
                actor=by,
                target=survivor,
                duplicate=duplicate.pk,
                merge_record=record.pk,
                reason=record.reason,
            )
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
        raise DomainError("too_few", _("Choose at least two customers to merge."))
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
            raise DomainError("already_undone", _("This merge was undone already."))
        if Customer.objects.filter(
            pk__in=[record.survivor_id, record.duplicate_id], erased_at__isnull=False
        ).exists():
            # The erasure cleared what the undo would put back.
            raise DomainError("customer_erased", _("The customer was erased since this merge."))
        if blocker := undo_blocker(record):
            raise DomainError(
                "merge_has_dependants",
                _("A later merge (#%(pk)s) involves these customers; undo it first.")
                % {"pk": blocker.pk},
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
        if by is not None:
            audit.record(
                audit.Action.MERGE_UNDO,
                actor=by,
                target=survivor,
                duplicate=duplicate.pk,
                merge_record=record.pk,
            )
        logger.info("customers.merge_undone record=%s", record.pk)
        return duplicate


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


def accept_suggestion(
    suggestion: MergeSuggestion, *, by: AbstractBaseUser | None = None
) -> MergeRecord | None:
    """Merge the two profiles of a suggestion (the oldest survives) and close it."""
    with transaction.atomic():
        suggestion = MergeSuggestion.objects.select_for_update().get(pk=suggestion.pk)
        if suggestion.status != MergeSuggestion.Status.OPEN:
            raise DomainError("suggestion_closed", _("This suggestion was resolved already."))
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
        raise DomainError("suggestion_closed", _("This suggestion was resolved already."))

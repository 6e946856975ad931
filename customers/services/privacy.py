"""Data rights: export everything held about a customer, and erase the person.

Both work on the person's whole "family": the live customer and every tombstone merged into it,
since a merge leaves some rows (and the old profile's name) on the tombstone. Both are audited.
What erasure keeps and why is in docs/decisions.md ("Erasure: …").
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from customers import privacy
from customers.models import Customer, Identity, MergeRecord, MergeSuggestion
from customers.services.lookup import live
from customers.services.profile import _phone_forms
from security import audit
from security.models import AuditEntry

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

EXPORT_FORMAT = "crm.customer-export/1"
PROFILE_FIELDS = (
    "id", "public_id", "first_name", "last_name", "locale", "time_zone", "stage", "traits",
    "first_seen_at", "last_seen_at", "order_count", "total_spent", "first_order_at",
    "last_order_at", "merged_into_id", "merged_at", "erased_at", "created_at", "updated_at",
)  # fmt: skip
SUGGESTION_FIELDS = (
    "id", "customer_id", "other_id", "identity_kind", "identity_value", "status", "created_at",
    "resolved_at",
)  # fmt: skip
# A merge chain is short; the bound only stops a corrupt cycle.
MAX_MERGE_DEPTH = 50


def family(customer: Customer) -> list[int]:
    """The customer's id and those of every tombstone merged into it, directly or through
    another tombstone (one query per merge level)."""
    ids = [customer.pk]
    frontier = [customer.pk]
    for _level in range(MAX_MERGE_DEPTH):
        frontier = [
            pk
            for pk in Customer.objects.filter(merged_into_id__in=frontier).values_list(
                "pk", flat=True
            )
            if pk not in ids
        ]
        if not frontier:
            break
        ids.extend(frontier)
    return ids


def export_document(customer: Customer) -> dict[str, Any]:
    """Everything held about the person ``customer`` names (a tombstone names its survivor),
    as one JSON-ready document; a fixed number of queries whatever the history's size."""
    return _document(live(customer, refresh=True))


def _document(person: Customer) -> dict[str, Any]:
    ids = family(person)
    rows = Customer.objects.filter(pk__in=ids).values(*PROFILE_FIELDS)
    profiles = {row["id"]: row for row in rows}
    document: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "exported_at": timezone.now(),
        "customer": profiles[person.pk],
        "merged_profiles": [profiles[pk] for pk in ids[1:]],
        "merge_history": list(
            MergeRecord.objects.filter(Q(survivor_id__in=ids) | Q(duplicate_id__in=ids))
            .order_by("pk")
            .values(
                "id", "survivor_id", "duplicate_id", "reason", "created_at", "undone_at", "moved"
            )
        ),
        "merge_suggestions": list(
            MergeSuggestion.objects.filter(Q(customer_id__in=ids) | Q(other_id__in=ids))
            .order_by("pk")
            .values(*SUGGESTION_FIELDS)
        ),
    }
    for _label, handler in privacy.handlers():
        document[handler.section] = handler.export(ids)
    return document


def export_customer(
    customer: Customer,
    *,
    via: str,
    request: HttpRequest | None = None,
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
) -> dict[str, Any]:
    """The export document, with its audit entry (``audit.Action.EXPORT``); ``via`` says where
    it was asked for ("admin", "api"). The document is read before the audit's transaction, so
    an admin download reads it from the replica when one is configured (config/routers.py); no
    document is returned unless its audit entry was written."""
    person = live(customer, refresh=True)
    document = _document(person)
    with transaction.atomic():
        audit.record(
            audit.Action.EXPORT,
            request=request,
            actor=actor,
            actor_label=actor_label,
            target=person,
            via=via,
            format="json",
            profiles=1 + len(document["merged_profiles"]),
        )
    return document


def _terms(ids: list[int], identities: list[tuple[int, str, str]]) -> list[str]:
    terms: list[str] = []
    for first, last in Customer.objects.filter(pk__in=ids).values_list("first_name", "last_name"):
        terms += [first, last, f"{first} {last}".strip()]
    for _pk, kind, value in identities:
        terms += _phone_forms(value) if kind == "phone" else [value]
    return [t for t in terms if t]


def erase_customer(
    customer: Customer,
    *,
    via: str,
    request: HttpRequest | None = None,
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
) -> Customer:
    """Erase the person ``customer`` names (a tombstone names its survivor), with every
    tombstone merged into them, in one transaction with its audit entry
    (``audit.Action.ERASE``).

    Identities are deleted and their digests suppressed; names, traits and free text are
    cleared from every registered model; rows, counts, amounts and consent proof stay. The
    customer row stays as "Erased customer". Running it again on an erased customer is safe.
    Locks the customers (pk order)."""
    now = timezone.now()
    with transaction.atomic():
        person = live(customer, refresh=True)
        ids = family(person)
        list(
            Customer.objects.select_for_update(no_key=True)
            .filter(pk__in=ids)
            .order_by("pk")
            .values_list("pk")
        )
        identities = list(
            Identity.objects.filter(customer_id__in=ids)
            .order_by("pk")
            .values_list("pk", "kind", "value")
        )
        erasure = privacy.Erasure(
            customer_ids=ids, now=now, identities=identities, terms=_terms(ids, identities)
        )
        # Audit entries about an address carry it in their label; names are too common to
        # look for (they would match other people's entries), device ids too many.
        addresses = [value for _pk, kind, value in identities if kind != Identity.Kind.ANONYMOUS_ID]
        for _label, handler in privacy.handlers():
            handler.erase(erasure)
        _erase_merge_rows(ids, now)
        Customer.objects.filter(pk__in=ids).update(
            first_name="",
            last_name="",
            traits={},
            search_text="",
            time_zone="",
            erased_at=now,
            updated_at=now,
        )
        _scrub_audit_log(ids, addresses, erasure)
        person.refresh_from_db()
        audit.record(
            audit.Action.ERASE,
            request=request,
            actor=actor,
            actor_label=actor_label,
            target=person,
            via=via,
            profiles=len(ids),
            identities=len(identities),
        )
    return person


def _erase_merge_rows(ids: list[int], now: datetime) -> None:
    suggestions = MergeSuggestion.objects.filter(Q(customer_id__in=ids) | Q(other_id__in=ids))
    suggestions.filter(status=MergeSuggestion.Status.OPEN).update(
        status=MergeSuggestion.Status.REJECTED, resolved_at=now
    )
    suggestions.update(identity_value="")
    # The field values a merge overwrote (names, traits): an undo is refused once erased.
    MergeRecord.objects.filter(Q(survivor_id__in=ids) | Q(duplicate_id__in=ids)).update(
        survivor_before={}, survivor_after={}
    )


def _scrub_audit_log(ids: list[int], addresses: list[str], erasure: privacy.Erasure) -> None:
    """Entries about the person keep who did what and when, not the person's name or address
    (target labels were ``str(customer)``, ``str(identity)``, …)."""
    about = Q(target_type="customers.customer", target_id__in=[str(pk) for pk in ids])
    for value in addresses:
        about |= Q(target_label__icontains=value)
    entries = list(AuditEntry.objects.filter(about))
    for entry in entries:
        entry.target_label = erasure.scrub(entry.target_label)
        if entry.target_type == "customers.customer" and entry.target_id in {str(i) for i in ids}:
            entry.target_label = str(Customer(erased_at=erasure.now))
        entry.details = erasure.scrub(entry.details)
    AuditEntry.objects.bulk_update(entries, ["target_label", "details"], batch_size=500)

"""The suppression list of erased identifiers: digests only, checked wherever an identifier
would be stored (identity resolution, the tracking batch's bulk path)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

from django.conf import settings

from customers.models import ErasedIdentifier
from customers.services.lookup import normalize_identifiers


def _pepper() -> str:
    # Optional secret kept outside the database (docs/decisions.md "Erasure: the suppression
    # list"); changing it makes every digest on the list unrecognisable.
    return getattr(settings, "ERASED_IDENTIFIER_PEPPER", "")


def digest(kind: str, value: str) -> str:
    """SHA-256 hex of a normalised identifier, with its kind (and the optional pepper)."""
    return hashlib.sha256(f"{_pepper()}\x00{kind}\x00{value}".encode()).hexdigest()


def erased_pairs(pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of these normalised (kind, value) pairs are on the list; one query, none if empty."""
    by_digest = {digest(kind, value): (kind, value) for kind, value in pairs}
    if not by_digest:
        return set()
    found = ErasedIdentifier.objects.filter(digest__in=list(by_digest)).values_list(
        "digest", flat=True
    )
    return {by_digest[d] for d in found}


def without_erased(pairs: Mapping[str, str]) -> tuple[dict[str, str], set[str]]:
    """The normalised pairs minus those on the list, and the kinds that were dropped."""
    erased = erased_pairs(pairs.items())
    kept = {kind: value for kind, value in pairs.items() if (kind, value) not in erased}
    return kept, {kind for kind, _value in erased}


def erased_kinds(identifiers: Mapping[str, object]) -> set[str]:
    """Kinds of raw identifiers (as a tracking call sends them) that are on the list."""
    pairs = normalize_identifiers(identifiers)
    return {kind for kind, _value in erased_pairs(pairs.items())}


def suppress(pairs: Iterable[tuple[str, str]]) -> int:
    """Put normalised identifiers on the list (idempotent); returns how many were given."""
    rows = [ErasedIdentifier(kind=kind, digest=digest(kind, value)) for kind, value in pairs]
    ErasedIdentifier.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    return len(rows)

"""The registry of customer-owned rows for data rights: how each model's rows are exported and
how they are erased.

``customers`` imports no other app, so each app registers its own models here from its
``AppConfig.ready()`` (``<app>/privacy.py``), as it does for merges (``relocation.py``). A test
fails for any model with a foreign key to ``Customer`` that has no registration (see
``unregistered_models``), so a new model cannot silently be left out of an export or an erasure.
The services that use the registry are in ``customers.services.privacy``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import models

from customers import relocation

# What replaces an identifying string inside free text that is otherwise kept (consent proof).
REDACTED = "[erased]"
# Shorter names are too common to scrub out of free text without mangling it.
MIN_TERM_LENGTH = 3


@dataclass
class Erasure:
    """One erasure in progress: the customers it covers (the person and every tombstone merged
    into them), its time, the identities being erased and the strings that identify the
    person, so handlers can scrub them out of free text they keep."""

    customer_ids: list[int]
    now: datetime
    # (pk, kind, normalised value) of every identity of those customers.
    identities: list[tuple[int, str, str]] = field(default_factory=list)
    terms: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        terms = sorted({t.strip() for t in self.terms if len(t.strip()) >= MIN_TERM_LENGTH})
        self.terms = sorted(terms, key=len, reverse=True)
        self._pattern = (
            re.compile("|".join(re.escape(t) for t in self.terms), re.IGNORECASE)
            if self.terms
            else None
        )

    def mentions(self, text: str) -> bool:
        return bool(self._pattern and isinstance(text, str) and self._pattern.search(text))

    def scrub(self, value: Any) -> Any:
        """``value`` with every identifying string replaced by REDACTED (JSON-shaped input)."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self._pattern.sub(REDACTED, value)
        if isinstance(value, dict):
            return {self.scrub(k): self.scrub(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.scrub(v) for v in value]
        return value


class PersonalData:
    """How one model's customer-owned rows are exported and erased.

    The default exports every column of every row and erases nothing: right for rows that
    hold no personal data beyond the link to the customer (which becomes "Erased customer")."""

    model: type[models.Model]
    field_name: str = "customer"
    section: str = ""

    def bind(self, model: type[models.Model], field_name: str, section: str) -> PersonalData:
        self.model, self.field_name, self.section = model, field_name, section
        return self

    def rows(self, customer_ids: Sequence[int]) -> models.QuerySet[Any]:
        return self.model._default_manager.filter(
            **{f"{self.field_name}__in": list(customer_ids)}
        ).order_by("pk")

    def export(self, customer_ids: Sequence[int]) -> list[dict[str, Any]]:
        """The rows as JSON-ready dicts, in a fixed number of queries however many rows."""
        return list(self.rows(customer_ids).values().iterator(chunk_size=2000))

    def erase(self, erasure: Erasure) -> None:
        """Clear the personal data of the rows; the rows themselves stay (counts hold)."""


_registry: dict[str, PersonalData] = {}


def _label(model: type[models.Model]) -> str:
    return model._meta.label_lower


def register(
    model: type[models.Model],
    *,
    section: str,
    handler: PersonalData | None = None,
    field_name: str = "customer",
) -> None:
    """Register how ``model``'s rows are exported (under ``section``) and erased; registering
    twice replaces the handler. Erasure runs handlers in registration order."""
    _registry[_label(model)] = (handler or PersonalData()).bind(model, field_name, section)


def handlers() -> Sequence[tuple[str, PersonalData]]:
    """Handlers in registration order (apps register in INSTALLED_APPS order)."""
    return list(_registry.items())


# The profile rows themselves and the merge bookkeeping; customers.services.privacy exports
# and erases them directly (two customer keys each, or the customer row itself).
EXEMPT = {"customers.customer", "customers.mergerecord", "customers.mergesuggestion"}


def unregistered_models() -> Iterable[str]:
    """Models with a foreign key to Customer that no app registered for data rights."""
    return [
        label
        for label in relocation.customer_owned_models()
        if label not in EXEMPT and label not in _registry
    ]


# --- The customers app's own rows ---------------------------------------------------------------


class ConsentData(PersonalData):
    """Consents keep their proof: status, purpose, wording, time, source and the client's proof
    (IP, form…) stay; the address becomes its digest (``erased_address``) and identifying
    strings inside the proof are replaced by REDACTED."""

    def erase(self, erasure: Erasure) -> None:
        from customers.services.suppression import digest

        digests = {pk: digest(kind, value) for pk, kind, value in erasure.identities}
        changed = []
        for consent in self.rows(erasure.customer_ids):
            if consent.identity_id is not None:
                consent.erased_address = digests.get(consent.identity_id, "")
                consent.identity = None
            consent.proof = erasure.scrub(consent.proof)
            consent.wording = erasure.scrub(consent.wording)
            changed.append(consent)
        self.model._default_manager.bulk_update(
            changed, ["identity", "erased_address", "proof", "wording"], batch_size=500
        )


class IdentityData(PersonalData):
    """Identities are deleted; their digests go on the suppression list first."""

    def export(self, customer_ids: Sequence[int]) -> list[dict[str, Any]]:
        return list(
            self.rows(customer_ids).values(
                "id", "customer_id", "kind", "value", "verified", "bounced_at", "source_id",
                "created_at",
            )
        )  # fmt: skip

    def erase(self, erasure: Erasure) -> None:
        from customers.services.suppression import suppress

        suppress((kind, value) for _pk, kind, value in erasure.identities)
        self.rows(erasure.customer_ids).delete()


# Numbers kept in an erased interaction's properties: amounts make revenue figures hold.
KEPT_PROPERTIES = frozenset(
    {"revenue", "total", "value", "subtotal", "tax", "shipping", "discount", "price", "quantity"}
)


def kept_properties(properties: Any) -> dict[str, Any]:
    """The amounts of an interaction's properties (plus a three-letter currency)."""
    if not isinstance(properties, dict):
        return {}
    kept: dict[str, Any] = {
        key: value
        for key, value in properties.items()
        if key in KEPT_PROPERTIES and isinstance(value, int | float) and not isinstance(value, bool)
    }
    currency = properties.get("currency")
    if kept and isinstance(currency, str) and re.fullmatch(r"[A-Za-z]{3}", currency):
        kept["currency"] = currency
    return kept


class InteractionData(PersonalData):
    """Rows stay (type, channel, direction, name, time, source, amounts); properties, context
    and the summary go."""

    def erase(self, erasure: Erasure) -> None:
        manager = self.model._default_manager
        with_amounts: list[models.Model] = []
        rows = self.rows(erasure.customer_ids).values_list("pk", "properties")
        for pk, properties in rows.iterator(chunk_size=2000):
            kept = kept_properties(properties)
            if kept:
                with_amounts.append(self.model(pk=pk, properties=kept))
        self.rows(erasure.customer_ids).update(properties={}, context={}, summary="")
        manager.bulk_update(with_amounts, ["properties"], batch_size=1000)


class CaseData(PersonalData):
    """Cases stay (channel, status, times, satisfaction score); subject and comment go."""

    def erase(self, erasure: Erasure) -> None:
        self.rows(erasure.customer_ids).update(subject="", csat_comment="")


def register_own() -> None:
    """The customers app's rows (from CustomersConfig.ready). Consents first: they must take
    their address's digest before the identities are deleted."""
    from customers.models import Case, Consent, Identity, Interaction

    register(Consent, section="consents", handler=ConsentData())
    register(Identity, section="identities", handler=IdentityData())
    register(Interaction, section="interactions", handler=InteractionData())
    register(Case, section="cases", handler=CaseData())

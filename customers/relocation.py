"""The registry of customer-owned rows that a merge moves, and that an undo moves back.

``customers`` imports no other app, so each app registers its own models here from its
``AppConfig.ready()``. A test fails for any model with a foreign key to ``Customer`` that has no
handler (see ``unregistered_models``), so a new model cannot silently be left behind by a merge.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.db import models

if TYPE_CHECKING:
    from customers.models import Customer


@dataclass
class Moved:
    """What one handler moved: row ids, plus any state it needs to put back on undo."""

    ids: list[int] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"ids": self.ids, "state": self.state}


class Relocation:
    """Moves one model's rows from a duplicate to a survivor; the default moves every row."""

    model: type[models.Model]
    field_name: str = "customer"

    def bind(self, model: type[models.Model], field_name: str) -> Relocation:
        self.model, self.field_name = model, field_name
        return self

    def move(self, *, duplicate: Customer, survivor: Customer) -> Moved:
        rows = self.model._default_manager.filter(**{self.field_name: duplicate})
        ids = sorted(rows.values_list("pk", flat=True))
        if ids:
            self.model._default_manager.filter(pk__in=ids).update(**{self.field_name: survivor})
        return Moved(ids=ids)

    def undo(self, moved: Moved, *, duplicate: Customer, survivor: Customer) -> None:
        if moved.ids:
            self.model._default_manager.filter(pk__in=moved.ids).update(
                **{self.field_name: duplicate}
            )


class ConsentRelocation(Relocation):
    """Address consents follow their address; customer-wide ones combine, opt-out winning.

    A customer-wide consent the survivor lacks moves over. Where both have one for the same
    purpose, the survivor's row takes the more restrictive status and the duplicate's row stays
    on the tombstone; the survivor's prior status is kept so an undo can put it back.
    """

    def move(self, *, duplicate: Customer, survivor: Customer) -> Moved:
        consent_model = self.model
        ranks = consent_model.RESTRICTIVENESS  # type: ignore[attr-defined]
        theirs = list(consent_model._default_manager.filter(customer=duplicate))
        ours = {
            c.purpose: c
            for c in consent_model._default_manager.filter(customer=survivor, identity__isnull=True)
        }
        move_ids: list[int] = []
        before: list[dict[str, Any]] = []
        for consent in theirs:
            kept = ours.get(consent.purpose) if consent.identity_id is None else None
            if kept is None:
                move_ids.append(consent.pk)
                continue
            if ranks[consent.status] < ranks[kept.status]:
                before.append(
                    {
                        "pk": kept.pk,
                        "status": kept.status,
                        "updated_at": kept.updated_at.isoformat(),
                    }
                )
                consent_model._default_manager.filter(pk=kept.pk).update(
                    status=consent.status, updated_at=consent.updated_at
                )
        if move_ids:
            consent_model._default_manager.filter(pk__in=move_ids).update(customer=survivor)
        return Moved(ids=sorted(move_ids), state={"survivor_before": before})

    def undo(self, moved: Moved, *, duplicate: Customer, survivor: Customer) -> None:
        from django.utils.dateparse import parse_datetime

        super().undo(moved, duplicate=duplicate, survivor=survivor)
        for prior in moved.state.get("survivor_before", []):
            self.model._default_manager.filter(pk=prior["pk"]).update(
                status=prior["status"], updated_at=parse_datetime(prior["updated_at"])
            )


_registry: dict[str, Relocation] = {}


def _label(model: type[models.Model]) -> str:
    return model._meta.label_lower


def register(
    model: type[models.Model], *, field_name: str = "customer", handler: Relocation | None = None
) -> None:
    """Register how a merge moves ``model``'s rows; registering twice replaces the handler."""
    _registry[_label(model)] = (handler or Relocation()).bind(model, field_name)


def handlers() -> Sequence[tuple[str, Relocation]]:
    """Handlers in registration order (apps register in INSTALLED_APPS order)."""
    return list(_registry.items())


def handler_for(label: str) -> Relocation:
    return _registry[label]


# Rows that describe merges themselves; they must stay where they are.
EXEMPT = {"customers.customer", "customers.mergerecord", "customers.mergesuggestion"}


def customer_owned_models() -> Iterable[str]:
    """Labels of every installed model with a concrete foreign key to Customer."""
    customer_model = apps.get_model("customers", "Customer")
    for model in apps.get_models():
        for model_field in model._meta.get_fields():
            related = getattr(model_field, "related_model", None)
            if model_field.is_relation and model_field.concrete and related is customer_model:
                yield _label(model)
                break


def unregistered_models() -> Iterable[str]:
    """Models with a foreign key to Customer that no app registered a relocation for."""
    return [
        label for label in customer_owned_models() if label not in EXEMPT and label not in _registry
    ]

"""How a customer merge moves campaign rows (registered in CampaignsConfig.ready)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from customers.relocation import Moved, Relocation

if TYPE_CHECKING:
    from customers.models import Customer


class OncePerGroup(Relocation):
    """Rows unique per (group, customer) — a list's members, a run's recipients: the
    duplicate's move, except in groups the survivor is in already; those stay on the
    tombstone (an undo finds them there)."""

    def __init__(self, group: str) -> None:
        self.group = group

    def move(self, *, duplicate: Customer, survivor: Customer) -> Moved:
        rows = self.model._default_manager
        ours = rows.filter(customer=survivor).values(self.group)
        theirs = rows.filter(customer=duplicate).exclude(**{f"{self.group}__in": ours})
        ids = sorted(theirs.values_list("pk", flat=True))
        if ids:
            rows.filter(pk__in=ids).update(customer=survivor)
        return Moved(ids=ids)

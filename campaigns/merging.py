"""How a customer merge moves static segment memberships (registered in CampaignsConfig.ready)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from campaigns.models import SegmentMember
from customers.relocation import Moved, Relocation

if TYPE_CHECKING:
    from customers.models import Customer


class MembershipRelocation(Relocation):
    """The duplicate's memberships move, except of lists the survivor is on already: those
    stay on the tombstone (an undo finds them there)."""

    def move(self, *, duplicate: Customer, survivor: Customer) -> Moved:
        ours = SegmentMember.objects.filter(customer=survivor).values("segment_id")
        rows = SegmentMember.objects.filter(customer=duplicate).exclude(segment_id__in=ours)
        ids = sorted(rows.values_list("pk", flat=True))
        if ids:
            SegmentMember.objects.filter(pk__in=ids).update(customer=survivor)
        return Moved(ids=ids)

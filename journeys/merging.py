"""How a customer merge moves enrollments (registered in JourneysConfig.ready)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils import timezone

from customers.relocation import Moved, Relocation
from journeys.models import Enrollment

if TYPE_CHECKING:
    from customers.models import Customer


class EnrollmentRelocation(Relocation):
    """Enrollments move and deduplicate: where both people are active in the same journey for
    the same context, the survivor's goes on and the duplicate's is ended as merged (it stays
    on the tombstone, so an undo finds it there)."""

    def move(self, *, duplicate: Customer, survivor: Customer) -> Moved:
        ours = set(
            Enrollment.objects.filter(
                customer=survivor, status=Enrollment.Status.ACTIVE
            ).values_list("journey_id", "context_key")
        )
        clashing = [
            pk
            for pk, journey_id, context_key in Enrollment.objects.filter(
                customer=duplicate, status=Enrollment.Status.ACTIVE
            ).values_list("pk", "journey_id", "context_key")
            if (journey_id, context_key) in ours
        ]
        if clashing:
            now = timezone.now()
            Enrollment.objects.filter(pk__in=clashing).update(
                status=Enrollment.Status.EXITED,
                reason="Merged into another profile's enrollment",
                next_run_at=None,
                finished_at=now,
                updated_at=now,
            )
        rows = Enrollment.objects.filter(customer=duplicate).exclude(pk__in=clashing)
        ids = sorted(rows.values_list("pk", flat=True))
        if ids:
            Enrollment.objects.filter(pk__in=ids).update(customer=survivor)
        return Moved(ids=ids)

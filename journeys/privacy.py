"""Data rights for journey enrollments (registered on import, from JourneysConfig.ready): an
erasure ends running enrollments and clears their context; rows and revenue stay."""

from __future__ import annotations

from customers import privacy
from customers.privacy import Erasure, PersonalData
from journeys.models import Enrollment


class EnrollmentData(PersonalData):
    def erase(self, erasure: Erasure) -> None:
        rows = self.rows(erasure.customer_ids)
        rows.filter(status=Enrollment.Status.ACTIVE).update(
            status=Enrollment.Status.EXITED,
            reason="Customer erased",
            next_run_at=None,
            finished_at=erasure.now,
            updated_at=erasure.now,
        )
        rows.update(context={})


privacy.register(Enrollment, section="journey_enrollments", handler=EnrollmentData())

"""The journeys back office, registered on import as Django's autodiscovery expects.

A package, like channels.admin: the journeys with their steps and figures, and the enrollment
monitor with its customer page panel.
"""

from journeys.admin import customer_summary  # noqa: F401  (registers the first-screen card)
from journeys.admin.enrollments import EnrollmentAdmin
from journeys.admin.journeys import JourneyAdmin

__all__ = ["EnrollmentAdmin", "JourneyAdmin"]

"""The customer page's first-screen card of journeys: the ones the customer is in now, with
when their next step runs (the full "Journeys" panel further down lists finished ones too)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, F, Window
from django.http import HttpRequest

from customers.admin import panels
from customers.models import Customer
from journeys.admin.enrollments import next_step_number
from journeys.models import Enrollment

# Active enrollments listed in the card; more are counted and linked to the panel below.
CARD_ROWS = 3


def active_journeys_card(request: HttpRequest, customer: Customer) -> dict[str, Any] | None:
    """Active enrollments, the soonest next step first, and how many: one query."""
    if customer.is_merged or not request.user.has_perm("journeys.view_enrollment"):
        return None
    rows = list(
        Enrollment.objects.filter(customer=customer, status=Enrollment.Status.ACTIVE)
        .select_related("journey")
        # Counted in the same query: the window is computed before the LIMIT.
        .annotate(active_count=Window(Count("pk")))
        .order_by(F("next_run_at").asc(nulls_last=True), "pk")[:CARD_ROWS]
    )
    count = rows[0].active_count if rows else 0
    return {
        "rows": [
            {"enrollment": enrollment, "next_step": next_step_number(enrollment)}
            for enrollment in rows
        ],
        "count": count,
        "more": count - min(count, CARD_ROWS),
    }


panels.register(
    "journeys.summary",
    template="admin/journeys/panels/summary.html",
    context=active_journeys_card,
    order=30,
    slot=panels.SUMMARY,
)

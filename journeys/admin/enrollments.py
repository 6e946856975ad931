"""The enrollment monitor (read-only: the engine writes enrollments) and the customer page's
"Journeys" panel."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import F, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from channels.models import Message
from customers.admin import panels
from customers.admin.base import (
    EstimatedCountPaginator,
    ReadOnlyAdminMixin,
    ViewerTimeZoneMixin,
    admin_link,
)
from customers.models import Customer
from journeys.models import Enrollment, JourneyStep

# Rows of each list in the customer page's panel: its cost must not grow with the history.
PANEL_ACTIVE_ROWS = 20
PANEL_FINISHED_ROWS = 10
# Status → a status class the shared stylesheets already colour.
STATUS_CLASSES = {
    Enrollment.Status.COMPLETED: "crm-status-sent",
    Enrollment.Status.EXITED: "crm-status-suppressed",
    Enrollment.Status.FAILED: "crm-status-failed",
}


def message_key(enrollment_pk: int, position: int) -> str:
    """The outbox idempotency key of a journey step's message (journeys/engine.py)."""
    return f"journey:{enrollment_pk}:{position}"


class DueFilter(admin.SimpleListFilter):
    """When the sweep takes an enrollment. "Due now" is the sweep's own condition, so the
    partial index journeys_enrollment_due (active rows by next run) serves it."""

    title = _("due")
    parameter_name = "due"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("now", _("Due now")),
            ("later", _("Later")),
            ("unscheduled", _("Not scheduled")),
        ]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[Enrollment]
    ) -> QuerySet[Enrollment]:
        active = Enrollment.Status.ACTIVE
        if self.value() == "now":
            return queryset.filter(status=active, next_run_at__lte=timezone.now())
        if self.value() == "later":
            return queryset.filter(status=active, next_run_at__gt=timezone.now())
        if self.value() == "unscheduled":
            return queryset.filter(next_run_at__isnull=True)
        return queryset


@admin.register(Enrollment)
class EnrollmentAdmin(ReadOnlyAdminMixin, ViewerTimeZoneMixin, admin.ModelAdmin):
    """Who is in which journey, what comes next and why each one ended."""

    list_display = (
        "customer_link",
        "journey",
        "context_label",
        "status",
        "next_step",
        "next_run_at",
        "entered_at",
        "reason",
        "messages_sent",
        "converted_at",
    )
    list_display_links = ("context_label",)
    list_filter = ("journey", "status", DueFilter)
    list_select_related = ("customer", "journey")
    # Newest first by the primary key: entered_at has no index of its own.
    ordering = ("-pk",)
    paginator = EstimatedCountPaginator
    list_per_page = 50
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    fieldsets = (
        (None, {"fields": (("customer", "journey"), ("context_key", "context"))}),
        (
            _("Progress"),
            {
                "fields": (
                    ("status", "reason"),
                    ("step", "next_run_at"),
                    ("messages_sent", "sent_messages"),
                )
            },
        ),
        (
            _("Times"),
            {"fields": (("entered_at", "updated_at", "finished_at"), ("converted_at", "revenue"))},
        ),
    )
    readonly_fields = ("sent_messages",)

    @admin.display(description=_("customer"), ordering="customer")
    def customer_link(self, enrollment: Enrollment) -> SafeString | str:
        return admin_link(enrollment.customer)

    @admin.display(description=_("context"), ordering="context_key")
    def context_label(self, enrollment: Enrollment) -> SafeString | str:
        if not enrollment.context_key:
            return self.get_empty_value_display()
        return format_html('<bdi class="crm-identifier">{}</bdi>', enrollment.context_key)

    @admin.display(description=_("next step"), ordering="step")
    def next_step(self, enrollment: Enrollment) -> int | str:
        return next_step_number(enrollment) or self.get_empty_value_display()

    @admin.display(description=_("messages in the outbox"))
    def sent_messages(self, enrollment: Enrollment) -> SafeString | str:
        positions = JourneyStep.objects.filter(journey_id=enrollment.journey_id).values_list(
            "position", flat=True
        )
        # Exact keys, so the unique index on idempotency_key finds them.
        keys = [message_key(enrollment.pk, position) for position in positions]
        rows = list(
            Message.objects.filter(idempotency_key__in=keys)
            .only("pk", "kind", "status", "created_at", "to", "customer_id")
            .order_by("created_at", "pk")
        )
        if not rows:
            return self.get_empty_value_display()
        return format_html(
            '<ul class="crm-compact">{}</ul>',
            format_html_join(
                "",
                '<li><a href="{}">{}</a> <span class="crm-muted">{}</span></li>',
                (
                    (
                        reverse("admin:channels_message_change", args=[m.pk]),
                        m,
                        m.get_status_display(),
                    )
                    for m in rows
                ),
            ),
        )


def next_step_number(enrollment: Enrollment) -> int | None:
    """The step the engine runs next, counted from 1; None once the enrollment has ended."""
    if enrollment.status != Enrollment.Status.ACTIVE:
        return None
    return enrollment.step + 1


# --- The customer page panel --------------------------------------------------------------------


def journeys_panel(request: HttpRequest, customer: Customer) -> dict[str, Any] | None:
    """The customer's active enrollments and the latest finished ones: two capped queries,
    whatever the customer's history."""
    if customer.is_merged or not request.user.has_perm("journeys.view_enrollment"):
        return None  # a tombstone's enrollments moved to the survivor with the rest
    rows = Enrollment.objects.filter(customer=customer).select_related("journey")
    active = list(
        rows.filter(status=Enrollment.Status.ACTIVE).order_by(
            F("next_run_at").asc(nulls_last=True), "pk"
        )[: PANEL_ACTIVE_ROWS + 1]
    )
    finished = list(
        rows.exclude(status=Enrollment.Status.ACTIVE).order_by(
            F("finished_at").desc(nulls_last=True), "-pk"
        )[: PANEL_FINISHED_ROWS + 1]
    )
    changelist = reverse("admin:journeys_enrollment_changelist")
    return {
        "active": [_row(enrollment) for enrollment in active[:PANEL_ACTIVE_ROWS]],
        "active_more": len(active) > PANEL_ACTIVE_ROWS,
        "active_limit": PANEL_ACTIVE_ROWS,
        "finished": [_row(enrollment) for enrollment in finished[:PANEL_FINISHED_ROWS]],
        "finished_more": len(finished) > PANEL_FINISHED_ROWS,
        "finished_limit": PANEL_FINISHED_ROWS,
        # The customer page renders in the viewer's time zone (ViewerTimeZoneMixin).
        "time_zone": timezone.get_current_timezone_name(),
        "list_url": f"{changelist}?customer__id__exact={customer.pk}",
    }


def _row(enrollment: Enrollment) -> dict[str, Any]:
    return {
        "enrollment": enrollment,
        "next_step": next_step_number(enrollment),
        "status_class": STATUS_CLASSES.get(enrollment.status, ""),
    }


panels.register(
    "journeys.enrollments",
    template="admin/journeys/panels/enrollments.html",
    context=journeys_panel,
    order=30,
)

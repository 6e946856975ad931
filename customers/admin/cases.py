"""The agents' case queue (the changelist) and the case page: what is waiting, whose it is,
what is overdue; assign, resolve and ask for satisfaction. Every change goes through
customers/cases.py, which holds the rules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timesince import timesince
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from customers import cases, selectors
from customers.admin.base import (
    ViewerTimeZoneMixin,
    channel_badge,
    customer_url,
)
from customers.errors import DomainError
from customers.models import Case, Customer

CASE_TIMELINE_SHOWN = 200


# --- Filters ------------------------------------------------------------------------------------


class CaseStatusFilter(admin.SimpleListFilter):
    """Unresolved cases (the queue) unless another status, or all, is asked for."""

    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [*Case.Status.choices, ("all", _("All"))]

    def choices(self, changelist: Any) -> Iterator[dict[str, Any]]:
        choices = super().choices(changelist)
        yield {**next(choices), "display": _("Unresolved")}  # the first choice is "no filter"
        yield from choices

    def queryset(self, request: HttpRequest, queryset: QuerySet[Case]) -> QuerySet[Case]:
        if self.value() in Case.Status.values:
            return queryset.filter(status=self.value())
        if self.value() == "all":
            return queryset
        return queryset.exclude(status=Case.Status.RESOLVED)


class AssigneeFilter(admin.SimpleListFilter):
    title = _("assignee")
    parameter_name = "assigned"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("mine", _("Mine")), ("nobody", _("Unassigned"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Case]) -> QuerySet[Case]:
        if self.value() == "mine":
            return queryset.filter(assignee=request.user)
        if self.value() == "nobody":
            return queryset.filter(assignee__isnull=True)
        return queryset


class OverdueFilter(admin.SimpleListFilter):
    title = _("first response")
    parameter_name = "sla"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("overdue", _("Overdue")),
            ("pending", _("Not answered yet")),
            ("answered", _("Answered")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Case]) -> QuerySet[Case]:
        if self.value() == "overdue":
            return queryset.filter(cases.overdue_q())
        if self.value() == "pending":
            return queryset.filter(first_response_at__isnull=True)
        if self.value() == "answered":
            return queryset.filter(first_response_at__isnull=False)
        return queryset


# --- Form ---------------------------------------------------------------------------------------


class CaseAdminForm(forms.ModelForm):
    """The case page: the rules of customers/cases.py checked as form errors."""

    ask_satisfaction = forms.BooleanField(
        label=_("Ask for satisfaction when resolving"),
        required=False,
        initial=True,
        help_text=_("Sends the customer the 1–5 satisfaction question when you resolve here."),
    )

    class Meta:
        model = Case
        fields = ["customer", "subject", "channel", "status", "priority", "assignee"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "assignee" in self.fields:
            self.fields["assignee"].queryset = (
                get_user_model().objects.filter(is_active=True, is_staff=True).order_by("username")
            )
        if "csat_score" in self.fields:
            self.fields["csat_score"] = forms.TypedChoiceField(
                label=_("satisfaction"),
                choices=[("", "—"), *[(n, str(n)) for n in range(1, 6)]],
                coerce=int,
                empty_value=None,
                required=False,
                help_text=_("A score the customer gave you in person or by phone (1–5)."),
            )
        self.previous_status = self.instance.status if self.instance.pk else None

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        status = data.get("status") or self.previous_status
        try:
            if self.instance.pk is None:
                customer = data.get("customer")
                if customer is not None and customer.is_merged:
                    self.add_error(
                        "customer", _("This profile was merged; choose the one it was merged into.")
                    )
            elif status and self.previous_status:
                cases.check_move(self.previous_status, status)
        except DomainError as error:
            self.add_error("status", error.message)
        if data.get("csat_score") is not None:
            if status != Case.Status.RESOLVED:
                self.add_error("csat_score", _("Resolve the case before rating it."))
            elif self.instance.csat_answered_at is not None:
                self.add_error("csat_score", _("The customer already rated this case."))
        return data


# --- Admin --------------------------------------------------------------------------------------


@admin.register(Case)
class CaseAdmin(ViewerTimeZoneMixin, admin.ModelAdmin):
    form = CaseAdminForm
    change_form_template = "admin/customers/case/change_form.html"
    list_display = (
        "subject",
        "customer_link",
        "channel_label",
        "status",
        "priority",
        "assignee",
        "opened_at",
        "waiting",
    )
    list_display_links = ("subject",)
    list_filter = (CaseStatusFilter, AssigneeFilter, OverdueFilter, "priority", "channel")
    list_select_related = ("customer", "assignee")
    ordering = ("-priority", "opened_at", "pk")
    search_fields = ("subject",)
    search_help_text = _("Subject, or the customer's name, email or phone.")
    autocomplete_fields = ("customer",)
    list_per_page = 50
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    actions = ["assign_to_me", "resolve_and_ask", "resolve_quietly"]

    class Media:
        css = {"all": ("customers/cases.css",)}

    # --- Queue columns ------------------------------------------------------------------------

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Case], search_term: str
    ) -> tuple[QuerySet[Case], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        customers = selectors.search_customers(Customer.objects.all(), term)
        return (
            queryset.filter(subject__icontains=term)
            | queryset.filter(customer__in=customers.values("pk")),
            False,
        )

    @admin.display(description=_("customer"), ordering="customer__last_name")
    def customer_link(self, case: Case) -> SafeString:
        return format_html(
            '<a href="{}">{}</a>', customer_url(case.customer_id), case.customer.display_name
        )

    @admin.display(description=_("opened on"), ordering="channel")
    def channel_label(self, case: Case) -> SafeString:
        badge = channel_badge(case.channel)
        return format_html(
            '<span class="crm-channel"><span aria-hidden="true">{}</span> {}</span>',
            badge["icon"],
            badge["label"],
        )

    @admin.display(description=_("waiting"))
    def waiting(self, case: Case) -> SafeString | str:
        """How long the customer has waited for a first answer, or how fast it came."""
        now = timezone.now()
        if case.first_response_at is not None:
            return format_html(
                '<span class="crm-muted">{}</span>',
                _("answered in %(time)s")
                % {"time": timesince(case.opened_at, case.first_response_at)},
            )
        if case.status == Case.Status.RESOLVED:
            return self.get_empty_value_display()
        waited = timesince(case.opened_at, now)
        if cases.is_overdue(case, now):
            return format_html('{} <span class="crm-case-overdue">{}</span>', waited, _("overdue"))
        return waited

    # --- Permissions and fields ---------------------------------------------------------------

    def get_fields(self, request: HttpRequest, obj: Case | None = None) -> list[str]:
        if obj is None:
            return ["customer", "subject", "channel", "priority", "assignee"]
        fields = [
            "customer_link",
            "subject",
            "channel_label",
            "status",
            "priority",
            "assignee",
            "opened_at",
            "first_response_at",
            "waiting",
            "resolved_at",
            "ask_satisfaction",
            "csat_requested_at",
            "csat_score",
            "csat_comment",
            "csat_answered_at",
        ]
        if obj.status == Case.Status.RESOLVED:
            fields.remove("ask_satisfaction")
        return fields

    def get_readonly_fields(self, request: HttpRequest, obj: Case | None = None) -> list[str]:
        if obj is None:
            return []
        readonly = [
            "customer_link",
            "channel_label",
            "opened_at",
            "first_response_at",
            "waiting",
            "resolved_at",
            "csat_requested_at",
            "csat_answered_at",
        ]
        if obj.status == Case.Status.RESOLVED:
            readonly += ["subject", "status", "priority", "assignee"]
        if obj.status != Case.Status.RESOLVED or obj.csat_answered_at is not None:
            readonly += ["csat_score", "csat_comment"]
        return readonly

    # --- Saving through the services ----------------------------------------------------------

    def save_model(self, request: HttpRequest, obj: Case, form: Any, change: bool) -> None:
        data = form.cleaned_data
        if not change:
            opened = cases.open_case(
                customer=data["customer"],
                subject=data["subject"],
                channel=data["channel"],
                priority=data["priority"],
                assignee=data.get("assignee"),
            )
            obj.pk, obj.opened_at, obj.status = opened.pk, opened.opened_at, opened.status
            obj._state.adding, obj._state.db = False, opened._state.db
            return
        changes: dict[str, Any] = {}
        for name in ("subject", "priority", "assignee", "status"):
            if name in form.fields:
                changes[name] = data.get(name)
        if "csat_score" in form.fields and data.get("csat_score") is not None:
            changes["score"] = data["csat_score"]
            changes["comment"] = data.get("csat_comment") or ""
        try:
            resolution = cases.update_case(
                obj.pk,
                ask_satisfaction=bool(data.get("ask_satisfaction")),
                agent=request.user,
                **changes,
            )
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
            return
        if resolution is not None:
            self._report_resolutions(request, [resolution])

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Case | None = None,
    ) -> HttpResponse:
        if obj is not None and not add:
            context["case_timeline"] = [
                (item, channel_badge(item.channel))
                for item in cases.case_timeline(obj, limit=CASE_TIMELINE_SHOWN)
            ]
            context["case_timeline_limit"] = CASE_TIMELINE_SHOWN
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- Actions ------------------------------------------------------------------------------

    @admin.action(description=_("Assign to me"), permissions=["change"])
    def assign_to_me(self, request: HttpRequest, queryset: QuerySet[Case]) -> None:
        taken = 0
        ids = queryset.exclude(status=Case.Status.RESOLVED).values_list("pk", flat=True)
        for pk in list(ids):
            try:
                cases.assign(pk, request.user)
            except DomainError:
                continue  # resolved meanwhile
            taken += 1
        self.message_user(
            request,
            ngettext("%(n)d case is now yours.", "%(n)d cases are now yours.", taken)
            % {"n": taken},
            messages.SUCCESS,
        )

    @admin.action(description=_("Resolve (and ask for satisfaction)"), permissions=["change"])
    def resolve_and_ask(self, request: HttpRequest, queryset: QuerySet[Case]) -> None:
        done = cases.resolve_many(
            queryset.select_related("customer").order_by("pk"), ask_satisfaction=True
        )
        self._report_resolutions(request, done)

    @admin.action(description=_("Resolve without asking"), permissions=["change"])
    def resolve_quietly(self, request: HttpRequest, queryset: QuerySet[Case]) -> None:
        done = cases.resolve_many(queryset.order_by("pk"), ask_satisfaction=False)
        self._report_resolutions(request, done)

    def _report_resolutions(self, request: HttpRequest, done: list[cases.Resolution]) -> None:
        self.message_user(
            request,
            ngettext("%(n)d case resolved.", "%(n)d cases resolved.", len(done)) % {"n": len(done)},
            messages.SUCCESS,
        )
        asked = [r for r in done if r.csat is not None and r.csat.sent]
        if asked:
            self.message_user(
                request,
                ngettext(
                    "Satisfaction asked for %(n)d case.",
                    "Satisfaction asked for %(n)d cases.",
                    len(asked),
                )
                % {"n": len(asked)},
                messages.SUCCESS,
            )
        for resolution in done:
            if resolution.csat is not None and not resolution.csat.sent:
                self.message_user(
                    request,
                    _("Satisfaction not asked for “%(case)s”: %(reason)s")
                    % {"case": resolution.case.subject, "reason": resolution.csat.reason},
                    messages.WARNING,
                )

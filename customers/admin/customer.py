"""The customer list and the single customer view (profile, identities, consents, merges and
the unified timeline), with the agent's "log an interaction" form and the merge action."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from customers import cases, selectors, services
from customers.admin import panels, summary
from customers.admin.base import (
    ViewerTimeZoneMixin,
    admin_link,
    channel_badge,
    customer_url,
    viewer_time_zone,
)
from customers.admin.filters import (
    ChannelSeenFilter,
    MarketingConsentFilter,
    MergedFilter,
    OpenSuggestionFilter,
)
from customers.admin.merge import merge_preview
from customers.errors import DomainError
from customers.forms import CustomerAdminForm, LogInteractionForm
from customers.models import (
    ChannelKind,
    Consent,
    Customer,
    Identity,
    Interaction,
    MergeRecord,
)
from customers.selectors import TimelineCursor
from customers.services.privacy import family

# An invalid log form survives the redirect back to the change page here (POST/redirect/GET).
LOG_FORM_SESSION_KEY = "customers.log_interaction"
# A customer who logs in on many devices gathers many merge records; the page shows the latest.
MERGE_RECORDS_SHOWN = 20
# A merge locks every selected row and moves all their history in one transaction.
MERGE_LIMIT = 10
IDENTITY_KIND_LABELS = dict(Identity.Kind.choices)
IDENTITY_ORDER = {kind: n for n, kind in enumerate(["user_id", "email", "phone", "loyalty_card"])}


def _primary_identity(kind: str) -> Subquery:
    """The customer's first verified (else oldest) identity of a kind, as one correlated query."""
    return Subquery(
        Identity.objects.filter(customer=OuterRef("pk"), kind=kind)
        .order_by("-verified", "created_at", "pk")
        .values("value")[:1]
    )


@dataclass(frozen=True)
class TimelineRow:
    item: Interaction
    channel: dict[str, Any]


@admin.register(Customer)
class CustomerAdmin(ViewerTimeZoneMixin, admin.ModelAdmin):
    form = CustomerAdminForm
    change_form_template = "admin/customers/customer/change_form.html"
    merge_confirmation_template = "admin/customers/customer/merge_confirmation.html"
    erase_confirmation_template = "admin/customers/customer/erase_confirmation.html"
    list_display = (
        "name",
        "primary_email",
        "primary_phone",
        "stage",
        "last_seen_at",
        "order_count",
    )
    list_filter = (
        "stage",
        ChannelSeenFilter,
        MarketingConsentFilter,
        OpenSuggestionFilter,
        MergedFilter,
    )
    # Only switches the search box on: get_search_results() does the searching.
    search_fields = ("search_text",)
    search_help_text = _(
        "Name, email, phone (Persian, Arabic or Latin digits), account id or any identifier."
    )
    list_per_page = 50
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    actions = ["merge_selected"]
    fieldsets = (
        (_("Name"), {"fields": (("first_name", "last_name"),)}),
        (_("Preferences"), {"fields": (("locale", "time_zone"), "stage", "traits")}),
        (
            _("Activity"),
            {
                "fields": (
                    "public_id",
                    ("first_seen_at", "last_seen_at"),
                    ("order_count", "total_spent"),
                    ("first_order_at", "last_order_at"),
                    "created_at",
                )
            },
        ),
        (_("Merge"), {"fields": (("merged_into", "merged_at"),)}),
    )
    readonly_fields = (
        "public_id",
        "first_seen_at",
        "last_seen_at",
        "order_count",
        "total_spent",
        "first_order_at",
        "last_order_at",
        "created_at",
        "merged_into",
        "merged_at",
    )

    # --- List ---------------------------------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> QuerySet[Customer]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                primary_email=_primary_identity(Identity.Kind.EMAIL),
                primary_phone=_primary_identity(Identity.Kind.PHONE),
            )
        )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Customer], search_term: str
    ) -> tuple[QuerySet[Customer], bool]:
        return selectors.search_customers(queryset, search_term), False

    @admin.display(description=_("name"), ordering="last_name")
    def name(self, customer: Customer) -> SafeString | str:
        if customer.is_merged:
            return format_html(
                '{} <span class="crm-muted">({})</span>', customer.display_name, _("merged")
            )
        return customer.display_name

    @admin.display(description=_("email"))
    def primary_email(self, customer: Customer) -> str:
        return getattr(customer, "primary_email", None) or self.get_empty_value_display()

    @admin.display(description=_("phone"))
    def primary_phone(self, customer: Customer) -> str:
        return getattr(customer, "primary_phone", None) or self.get_empty_value_display()

    # --- Permissions --------------------------------------------------------------------------

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A tombstone only points at its survivor; nothing on it is edited any more. Nor is an
        # erased profile: it holds no person any more.
        if obj is not None and (obj.is_merged or obj.is_erased):
            return False
        return super().has_change_permission(request, obj)

    def has_export_data_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("customers.export_customer_data")

    def has_erase_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("customers.erase_customer")

    def has_merge_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("customers.merge_customers")

    def can_log_interaction(self, request: HttpRequest) -> bool:
        return request.user.has_perm("customers.add_interaction")

    # --- Change page: the single customer view ------------------------------------------------

    def save_model(self, request: HttpRequest, obj: Customer, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change or {"first_name", "last_name"} & set(form.changed_data):
            services.refresh_search_text([obj.pk])

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Customer | None = None,
    ) -> HttpResponse:
        # Here rather than in changeform_view: the object is already loaded, and nothing is
        # computed for a POST that only redirects.
        if obj is not None and not add:
            context.update(self.single_view_context(request, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def single_view_context(self, request: HttpRequest, customer: Customer) -> dict[str, Any]:
        """Everything below the profile form; a fixed number of queries, whatever the history."""
        channel = request.GET.get("channel") or None
        if channel not in ChannelKind.values:
            channel = None
        cursor = TimelineCursor.decode(request.GET.get("before"))
        page = selectors.timeline(customer, before=cursor, channel=channel)
        keep = {k: request.GET[k] for k in ("_changelist_filters",) if request.GET.get(k)}

        def url(**params: str | None) -> str:
            query = urlencode({**keep, **{k: v for k, v in params.items() if v}})
            return f"{request.path}{'?' + query if query else ''}#timeline"

        suggestions = [
            (
                s,
                s.other if s.customer_id == customer.pk else s.customer,
                IDENTITY_KIND_LABELS.get(s.identity_kind, s.identity_kind),
            )
            for s in selectors.open_suggestions_for(customer)
        ]
        records = [
            (r, r.duplicate if r.survivor_id == customer.pk else r.survivor)
            for r in MergeRecord.objects.filter(Q(survivor=customer) | Q(duplicate=customer))
            .select_related("survivor", "duplicate", "merged_by")
            .order_by("-created_at", "-pk")[:MERGE_RECORDS_SHOWN]
        ]
        can_log = not customer.is_merged and self.can_log_interaction(request)
        identities = selectors.identities_of(customer)
        consents = selectors.consents_of(customer)
        return {
            "survivor": customer.merged_into if customer.is_merged else None,
            **self._identities_context(identities),
            "consents": consents,
            # The first screen; a tombstone has none (its history lives on the survivor).
            "summary": (
                None
                if customer.is_merged
                else self._summary_context(request, customer, identities, consents)
            ),
            "suggestions": suggestions,
            "merge_records": records,
            "merge_records_limit": MERGE_RECORDS_SHOWN,
            "timeline_rows": [TimelineRow(i, channel_badge(i.channel)) for i in page.items],
            "timeline_channel": channel,
            "timeline_channels": [
                {**channel_badge(c), "url": url(channel=c)}
                for c in selectors.channels_seen(customer)
            ],
            "timeline_all_url": url(),
            "timeline_older_url": (
                url(channel=channel, before=page.next_cursor.encode()) if page.next_cursor else None
            ),
            "timeline_newest_url": url(channel=channel) if cursor else None,
            "viewer_time_zone": timezone.get_current_timezone_name(),
            "log_form": self._log_form(request, customer) if can_log else None,
            "log_url": reverse("admin:customers_customer_log", args=[customer.pk]),
            "export_data_url": (
                reverse("admin:customers_customer_export", args=[customer.pk])
                if self.has_export_data_permission(request)
                else None
            ),
            "erase_url": (
                reverse("admin:customers_customer_erase", args=[customer.pk])
                if self.has_erase_permission(request) and not customer.is_erased
                else None
            ),
            # Sections other apps register (customers imports none of them).
            "customer_panels": panels.panels_for(request, customer),
        }

    def _summary_context(
        self,
        request: HttpRequest,
        customer: Customer,
        identities: list[Identity],
        consents: list[Consent],
    ) -> dict[str, Any]:
        """The first screen: the customer's own facts, then the cards other apps register."""
        return {
            "value": summary.lifetime_value(customer),
            "cases": summary.open_cases(request, customer),
            "consent_badges": summary.consent_badges(customer, identities, consents),
            "cards": panels.panels_for(request, customer, slot=panels.SUMMARY),
        }

    def _identities_context(self, identities: list[Identity]) -> dict[str, Any]:
        # Contact identifiers first; device/cookie ids (up to hundreds) go in a folded list.
        rows = sorted(
            identities,
            key=lambda i: (IDENTITY_ORDER.get(i.kind, len(IDENTITY_ORDER)), i.kind),
        )
        labelled = [(i, IDENTITY_KIND_LABELS.get(i.kind, i.kind)) for i in rows]
        return {
            "identities": [row for row in labelled if row[0].kind != Identity.Kind.ANONYMOUS_ID],
            "device_ids": [i for i, _label in labelled if i.kind == Identity.Kind.ANONYMOUS_ID],
        }

    def _log_form(self, request: HttpRequest, customer: Customer) -> LogInteractionForm:
        stashed = request.session.pop(LOG_FORM_SESSION_KEY, None)
        if stashed and stashed.get("customer") == customer.pk:
            form = LogInteractionForm(stashed.get("data") or {})
            form.is_valid()  # shows the errors the agent saw rejected
            return form
        return LogInteractionForm()

    # --- Log an interaction -------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/log/",
                self.admin_site.admin_view(self.log_interaction_view),
                name=f"{info[0]}_{info[1]}_log",
            ),
            path(
                "<path:object_id>/export/",
                self.admin_site.admin_view(self.export_data_view),
                name=f"{info[0]}_{info[1]}_export",
            ),
            path(
                "<path:object_id>/erase/",
                self.admin_site.admin_view(self.erase_view),
                name=f"{info[0]}_{info[1]}_erase",
            ),
            *super().get_urls(),
        ]

    def log_interaction_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Record a call, visit, chat or note by the agent; back to the page, newest on top."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.can_log_interaction(request):
            raise PermissionDenied
        customer = self.get_object(request, unquote(object_id))
        if customer is None:
            raise Http404
        if not self.has_view_permission(request, customer):
            raise PermissionDenied
        change_url = customer_url(customer)
        if customer.is_merged:
            self.message_user(
                request,
                _("This profile was merged; log the interaction on the one it was merged into."),
                messages.ERROR,
            )
            return redirect(change_url)
        with timezone.override(viewer_time_zone(request)):
            form = LogInteractionForm(request.POST)
            valid = form.is_valid()
        if not valid:
            request.session[LOG_FORM_SESSION_KEY] = {
                "customer": customer.pk,
                "data": {name: request.POST.get(name, "") for name in form.fields},
            }
            self.message_user(
                request,
                _("The interaction was not logged: please correct the errors below."),
                messages.ERROR,
            )
            return redirect(f"{change_url}#log-interaction")
        # A call or chat opens or joins a support case, an outbound one answers it.
        interaction, case = cases.log_interaction(
            customer=customer, agent=request.user, **form.interaction_kwargs()
        )
        self.message_user(
            request,
            _("Logged “%(summary)s”.") % {"summary": interaction.summary}
            if case is None
            else _("Logged “%(summary)s” on the case “%(case)s”.")
            % {"summary": interaction.summary, "case": case.subject},
            messages.SUCCESS,
        )
        return redirect(f"{change_url}#timeline")

    # --- Merge ----------------------------------------------------------------------------------

    @admin.action(description=_("Merge selected customers"), permissions=["merge"])
    def merge_selected(
        self, request: HttpRequest, queryset: QuerySet[Customer]
    ) -> TemplateResponse | None:
        customers = list(queryset.order_by("created_at", "pk")[: MERGE_LIMIT + 1])
        if len(customers) > MERGE_LIMIT:
            self.message_user(
                request,
                _("Merge at most %(limit)d customers at a time.") % {"limit": MERGE_LIMIT},
                messages.ERROR,
            )
            return None
        if len(customers) < 2:
            self.message_user(request, _("Choose at least two customers to merge."), messages.ERROR)
            return None
        if request.POST.get("confirm"):
            try:
                records = services.merge_many(customers, by=request.user, reason="admin")
            except DomainError as exc:
                self.message_user(request, exc.message, messages.ERROR)
                return None
            survivor = records[0].survivor
            self.message_user(
                request,
                format_html(
                    str(_("Merged {count} customers into {survivor}.")),
                    count=len(records) + 1,
                    survivor=admin_link(survivor),
                ),
                messages.SUCCESS,
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Merge customers"),
            "opts": self.opts,
            "preview": merge_preview(customers),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.merge_confirmation_template, context)

    # --- Data rights ----------------------------------------------------------------------------

    def _customer_or_404(self, request: HttpRequest, object_id: str) -> Customer:
        customer = self.get_object(request, unquote(object_id))
        if customer is None:
            raise Http404
        return customer

    def export_data_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Everything held about the customer as a JSON download; audited."""
        if not self.has_export_data_permission(request):
            raise PermissionDenied
        customer = self._customer_or_404(request, object_id)
        document = services.export_customer(customer, via="admin", request=request)
        response = HttpResponse(
            json.dumps(document, cls=DjangoJSONEncoder, ensure_ascii=False, indent=1),
            content_type="application/json; charset=utf-8",
        )
        name = f"customer-{document['customer']['public_id']}.json"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    def erase_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """A confirmation page saying what erasure does; erases on POST (audited)."""
        if not self.has_erase_permission(request):
            raise PermissionDenied
        customer = self._customer_or_404(request, object_id)
        person = services.live(customer, refresh=True)
        if request.method == "POST":
            erased = services.erase_customer(person, via="admin", request=request)
            self.message_user(
                request,
                _("The customer's personal data was erased; the profile stays as “%(name)s”.")
                % {"name": erased.display_name},
                messages.SUCCESS,
            )
            return redirect(customer_url(erased))
        ids = family(person)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Erase a customer"),
            "opts": self.opts,
            "original": person,
            "merged_count": len(ids) - 1,
            "identity_count": Identity.objects.filter(customer_id__in=ids).count(),
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.erase_confirmation_template, context)

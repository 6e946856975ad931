"""Plain admins for the customers app's other tables: sources, identities, consents and the
(large, read-only) interaction log."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from customers import services
from customers.admin.base import (
    EstimatedCountPaginator,
    ReadOnlyAdminMixin,
    ViewerTimeZoneMixin,
    admin_link,
)
from customers.forms import IdentityAdminForm
from customers.identity import (
    normalize_email,
    normalize_identifier,
    normalize_letters,
    normalize_phone,
    to_latin_digits,
)
from customers.models import Consent, Identity, Interaction
from security import audit


class IdentityKindFilter(admin.SimpleListFilter):
    """The built-in kinds; a plain field filter would run SELECT DISTINCT over every identity."""

    title = _("kind")
    parameter_name = "kind"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return list(Identity.Kind.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Identity]) -> QuerySet[Identity]:
        return queryset.filter(kind=self.value()) if self.value() else queryset


@admin.register(Identity)
class IdentityAdmin(ViewerTimeZoneMixin, admin.ModelAdmin):
    form = IdentityAdminForm
    list_display = ("kind", "value", "customer_link", "verified", "source", "created_at")
    list_filter = (IdentityKindFilter, "verified")
    list_select_related = ("customer", "source")
    raw_id_fields = ("customer",)
    # Only switches the search box on: get_search_results() does the searching.
    search_fields = ("value",)
    search_help_text = _("The exact identifier, typed any way: email, phone in any digits, id.")
    paginator = EstimatedCountPaginator
    list_per_page = 50
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER

    @admin.display(description=_("customer"), ordering="customer")
    def customer_link(self, identity: Identity) -> SafeString | str:
        return admin_link(identity.customer)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Identity], search_term: str
    ) -> tuple[QuerySet[Identity], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        # Exact values only, never a substring scan over a table of millions.
        values = {
            term,
            normalize_letters(to_latin_digits(term)).strip(),
            normalize_email(term),
            normalize_phone(term),
            normalize_identifier("instagram", term),
        } - {None, ""}
        return queryset.filter(value__in=sorted(values)), False

    def save_model(self, request: HttpRequest, obj: Identity, form: Any, change: bool) -> None:
        before = form.initial.get("customer") if change else None
        super().save_model(request, obj, form, change)
        services.refresh_search_text({obj.customer_id, *([before] if before else [])})

    def delete_model(self, request: HttpRequest, obj: Identity) -> None:
        customer_id = obj.customer_id
        super().delete_model(request, obj)
        services.refresh_search_text([customer_id])


@admin.register(Consent)
class ConsentAdmin(ViewerTimeZoneMixin, admin.ModelAdmin):
    list_display = ("customer_link", "address", "purpose", "status", "source", "updated_at")
    list_filter = ("purpose", "status")
    list_select_related = ("customer", "identity", "source")
    raw_id_fields = ("customer", "identity")
    paginator = EstimatedCountPaginator
    list_per_page = 50
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER

    @admin.display(description=_("customer"), ordering="customer")
    def customer_link(self, consent: Consent) -> SafeString | str:
        return admin_link(consent.customer)

    @admin.display(description=_("address"), ordering="identity__value")
    def address(self, consent: Consent) -> str:
        return consent.identity.value if consent.identity_id else str(_("all addresses"))

    def save_model(self, request: HttpRequest, obj: Consent, form: Any, change: bool) -> None:
        """A consent a staff member writes by hand is audited with what changed."""
        super().save_model(request, obj, form, change)
        audit.record(
            audit.Action.CONSENT,
            request=request,
            target=obj.customer,
            consent=obj.pk,
            address=self.address(obj),
            purpose=obj.purpose,
            status=obj.status,
            changed=sorted(form.changed_data),
            created=not change,
        )

    def delete_model(self, request: HttpRequest, obj: Consent) -> None:
        audit.record(
            audit.Action.CONSENT,
            request=request,
            target=obj.customer,
            consent=obj.pk,
            address=self.address(obj),
            purpose=obj.purpose,
            deleted=True,
        )
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Consent]) -> None:
        with transaction.atomic():
            for consent in queryset.select_related("customer", "identity"):
                self.delete_model(request, consent)


@admin.register(Interaction)
class InteractionAdmin(ReadOnlyAdminMixin, ViewerTimeZoneMixin, admin.ModelAdmin):
    """The whole event log, read-only: agents add to it from the customer page."""

    list_display = (
        "occurred_at",
        "customer_link",
        "channel",
        "type",
        "direction",
        "summary",
        "source",
        "agent",
    )
    list_filter = ("channel", "type", "direction")
    list_select_related = ("customer", "source", "agent")
    raw_id_fields = ("customer", "source", "agent")
    # Newest received first: the primary key is indexed, occurred_at alone is not (the timeline
    # index leads with the customer), and sorting millions of rows per page load is not an option.
    ordering = ("-pk",)
    paginator = EstimatedCountPaginator
    list_per_page = 50
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER

    @admin.display(description=_("customer"), ordering="customer")
    def customer_link(self, interaction: Interaction) -> SafeString | str:
        return admin_link(interaction.customer)

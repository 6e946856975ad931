"""Merging in the admin: the preview behind "Merge selected customers", merge records (with
undo) and the merge-suggestion review queue. Every write goes through ``customers.services``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.contrib import admin, messages
from django.contrib.admin.utils import display_for_field
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from customers import relocation, services
from customers.admin.base import ReadOnlyAdminMixin, ViewerTimeZoneMixin, admin_link
from customers.admin.filters import SuggestionStatusFilter
from customers.errors import DomainError
from customers.models import Consent, Customer, MergeRecord, MergeSuggestion

CONSENT_LABEL = Consent._meta.label_lower


# --- Preview of a merge, computed without writing ---------------------------------------------


@dataclass
class FieldOutcome:
    label: str
    values: list[str]  # the survivor's, then each duplicate's
    result: str
    changed: bool


@dataclass
class ConsentOutcome:
    label: str
    statuses: list[str]  # customer-wide status on each side, survivor first
    result: str
    changed: bool


@dataclass
class MergePreview:
    survivor: Customer
    duplicates: list[Customer]
    fields: list[FieldOutcome] = field(default_factory=list)
    moves: list[tuple[str, int]] = field(default_factory=list)
    consents: list[ConsentOutcome] = field(default_factory=list)

    @property
    def customers(self) -> list[Customer]:
        return [self.survivor, *self.duplicates]


def _display(customer: Customer, name: str) -> str:
    model_field = Customer._meta.get_field(name)
    value = getattr(customer, name)
    if getattr(model_field, "flatchoices", None):
        return str(dict(model_field.flatchoices).get(value, value) or "-")
    return str(display_for_field(value, model_field, "-"))


def merge_preview(customers: Sequence[Customer]) -> MergePreview:
    """What ``services.merge_many(customers)`` would do, read from the database, nothing saved.

    One query per registered relocation model plus two; the survivor is the oldest customer.
    """
    survivor, *duplicates = services.oldest_first(customers)
    preview = MergePreview(survivor=survivor, duplicates=duplicates)

    # _combine on an unsaved copy: the same rules the merge applies, so the preview cannot drift.
    result = Customer(**{name: getattr(survivor, name) for name in services.MERGED_FIELDS})
    result.traits = dict(survivor.traits)
    for duplicate in duplicates:
        services._combine(result, duplicate)
    for name in services.MERGED_FIELDS:
        values = [_display(c, name) for c in preview.customers]
        outcome = _display(result, name)
        preview.fields.append(
            FieldOutcome(
                label=str(Customer._meta.get_field(name).verbose_name),
                values=values,
                result=outcome,
                changed=outcome != values[0],
            )
        )

    duplicate_ids = [c.pk for c in duplicates]
    ranks = Consent.RESTRICTIVENESS
    wide = list(
        Consent.objects.filter(
            customer__in=[c.pk for c in preview.customers], identity__isnull=True
        ).order_by("pk")
    )
    staying = 0
    for purpose, purpose_label in Consent.Purpose.choices:
        by_customer = {c.customer_id: c.status for c in wide if c.purpose == purpose}
        if not by_customer:
            continue
        # Customer-wide rows combine: the survivor's row takes the most restrictive status and
        # the duplicates' rows stay on the tombstones (relocation.ConsentRelocation).
        staying += len(by_customer) - 1
        winner = min(by_customer.values(), key=lambda status: ranks[status])
        statuses = [
            str(Consent.Status(by_customer[c.pk]).label) if c.pk in by_customer else "-"
            for c in preview.customers
        ]
        preview.consents.append(
            ConsentOutcome(
                label=str(purpose_label),
                statuses=statuses,
                result=str(Consent.Status(winner).label),
                changed=by_customer.get(survivor.pk) != winner,
            )
        )

    for label, handler in relocation.handlers():
        count = handler.model._default_manager.filter(
            **{f"{handler.field_name}__in": duplicate_ids}
        ).count()
        if label == CONSENT_LABEL:
            count -= staying
        preview.moves.append((str(handler.model._meta.verbose_name_plural), count))
    tombstones = Customer.objects.filter(merged_into__in=duplicate_ids).count()
    preview.moves.append((str(_("earlier merged profiles")), tombstones))
    return preview


# --- Merge records ------------------------------------------------------------------------------


def run_each(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    rows: Iterable[Any],
    action: Callable[[Any], object],
    done: Callable[[int], str],
) -> None:
    """Apply a service to each selected row; a DomainError is reported for that row and the
    rest go on; one success message counts what worked."""
    count = 0
    for row in rows:
        try:
            action(row)
        except DomainError as exc:
            model_admin.message_user(request, f"#{row.pk}: {exc.message}", messages.ERROR)
            continue
        count += 1
    if count:
        model_admin.message_user(request, done(count), messages.SUCCESS)


@admin.register(MergeRecord)
class MergeRecordAdmin(ReadOnlyAdminMixin, ViewerTimeZoneMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "survivor_link",
        "duplicate_link",
        "reason",
        "merged_by",
        "created_at",
        "is_undone",
    )
    list_display_links = ("id",)
    list_select_related = ("survivor", "duplicate", "merged_by")
    list_filter = (("undone_at", admin.EmptyFieldListFilter),)
    list_per_page = 50
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    actions = ["undo_selected"]
    change_form_template = "admin/customers/change_form_with_actions.html"
    fields = (
        "survivor_link",
        "duplicate_link",
        "reason",
        "merged_by",
        "created_at",
        "moved_counts",
        "consent_changes",
        "undo_status",
        "undone_at",
        "undone_by",
    )
    readonly_fields = fields

    def has_undo_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("customers.undo_mergerecord")

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], *args: Any, obj: Any = None, **kw: Any
    ) -> HttpResponse:
        can_undo = obj is not None and obj.undone_at is None and self.has_undo_permission(request)
        context["object_actions"] = [("undo_selected", _("Undo merge"))] if can_undo else []
        return super().render_change_form(request, context, *args, obj=obj, **kw)

    def get_queryset(self, request: HttpRequest) -> QuerySet[MergeRecord]:
        return (
            super()
            .get_queryset(request)
            .select_related("survivor", "duplicate", "merged_by", "undone_by")
        )

    @admin.display(description=_("survivor"), ordering="survivor")
    def survivor_link(self, record: MergeRecord) -> SafeString | str:
        return admin_link(record.survivor)

    @admin.display(description=_("duplicate"), ordering="duplicate")
    def duplicate_link(self, record: MergeRecord) -> SafeString | str:
        return admin_link(record.duplicate)

    @admin.display(description=_("undone"), boolean=True, ordering="undone_at")
    def is_undone(self, record: MergeRecord) -> bool:
        return record.undone_at is not None

    @admin.display(description=_("what moved"))
    def moved_counts(self, record: MergeRecord) -> SafeString:
        rows = []
        for label, data in record.moved.items():
            if label == "tombstones":
                name, count = _("earlier merged profiles"), len(data)
            else:
                try:
                    name = apps.get_model(label)._meta.verbose_name_plural
                except (LookupError, ValueError):
                    name = label
                count = len(data.get("ids", []))
            rows.append((name, count))
        return format_html(
            '<table class="crm-compact"><tbody>{}</tbody></table>',
            format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows),
        )

    @admin.display(description=_("consents made stricter"))
    def consent_changes(self, record: MergeRecord) -> SafeString | str:
        if not record.consent_before:
            return "-"
        return format_html_join(
            ", ",
            "#{} ({})",
            ((c["pk"], Consent.Status(c["status"]).label) for c in record.consent_before),
        )

    @admin.display(description=_("can be undone"))
    def undo_status(self, record: MergeRecord) -> str:
        if record.undone_at is not None:
            return str(_("No: undone already."))
        if blocker := services.undo_blocker(record):
            return str(_("No: undo the later merge #%(pk)s first.") % {"pk": blocker.pk})
        return str(_("Yes"))

    @admin.action(description=_("Undo merge"), permissions=["undo"])
    def undo_selected(self, request: HttpRequest, queryset: QuerySet[MergeRecord]) -> None:
        run_each(
            self,
            request,
            # Newest first: a later merge blocks the undo of an earlier one over the same people.
            queryset.order_by("-pk"),
            lambda record: services.undo_merge(record, by=request.user),
            lambda n: (
                ngettext("Undid %(count)d merge.", "Undid %(count)d merges.", n) % {"count": n}
            ),
        )


# --- Merge suggestions --------------------------------------------------------------------------


@admin.register(MergeSuggestion)
class MergeSuggestionAdmin(ViewerTimeZoneMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "customer_link",
        "other_link",
        "identity_kind",
        "identity_value",
        "status",
        "created_at",
    )
    list_display_links = ("id",)
    list_select_related = ("customer", "other")
    list_filter = (SuggestionStatusFilter,)
    list_per_page = 50
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    actions = ["accept_selected", "reject_selected"]
    change_form_template = "admin/customers/change_form_with_actions.html"
    fields = (
        "customer_link",
        "other_link",
        "identity_kind",
        "identity_value",
        "status",
        "created_at",
        "resolved_at",
        "resolved_by",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The detail page is read-only; "change" is the right to accept or reject (actions).
        return obj is None and super().has_change_permission(request)

    def has_merge_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("customers.merge_customers")

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], *args: Any, obj: Any = None, **kw: Any
    ) -> HttpResponse:
        buttons = []
        if obj is not None and obj.status == MergeSuggestion.Status.OPEN:
            if self.has_change_permission(request):
                if self.has_merge_permission(request):
                    buttons.append(("accept_selected", _("Accept (merge)")))
                buttons.append(("reject_selected", _("Reject")))
        context["object_actions"] = buttons
        return super().render_change_form(request, context, *args, obj=obj, **kw)

    def get_queryset(self, request: HttpRequest) -> QuerySet[MergeSuggestion]:
        return super().get_queryset(request).select_related("customer", "other", "resolved_by")

    @admin.display(description=_("customer"), ordering="customer")
    def customer_link(self, suggestion: MergeSuggestion) -> SafeString | str:
        return admin_link(suggestion.customer)

    @admin.display(description=_("possible duplicate"), ordering="other")
    def other_link(self, suggestion: MergeSuggestion) -> SafeString | str:
        return admin_link(suggestion.other)

    @admin.action(description=_("Accept (merge)"), permissions=["change", "merge"])
    def accept_selected(self, request: HttpRequest, queryset: QuerySet[MergeSuggestion]) -> None:
        def accept(suggestion: MergeSuggestion) -> None:
            record = services.accept_suggestion(suggestion, by=request.user)
            if record is not None:
                self.message_user(
                    request,
                    format_html(
                        str(_("Merged into {survivor}.")), survivor=admin_link(record.survivor)
                    ),
                    messages.SUCCESS,
                )

        run_each(
            self,
            request,
            queryset.order_by("pk"),
            accept,
            lambda n: (
                ngettext("Accepted %(count)d suggestion.", "Accepted %(count)d suggestions.", n)
                % {"count": n}
            ),
        )

    @admin.action(description=_("Reject"), permissions=["change"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet[MergeSuggestion]) -> None:
        run_each(
            self,
            request,
            queryset.order_by("pk"),
            lambda suggestion: services.reject_suggestion(suggestion, by=request.user),
            lambda n: (
                ngettext("Rejected %(count)d suggestion.", "Rejected %(count)d suggestions.", n)
                % {"count": n}
            ),
        )

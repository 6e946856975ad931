"""Segments in the admin: the form with its rule builder (static/campaigns/segment_builder.js
over the JSON rule tree), a live count with a sample of customers, JSON export, CSV import of
fixed lists and the hashed audience download for ad platforms."""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Iterable, Iterator
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch, QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import redirect
from django.urls import URLPattern, path, reverse
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from campaigns import segments, services
from campaigns.admin.builder import builder_choices
from campaigns.models import Segment
from customers.admin.base import ViewerTimeZoneMixin, customer_url
from customers.errors import DomainError
from customers.models import Customer, Identity
from security import audit

# Customers shown under a count, on the change page and in the live preview.
SAMPLE_SIZE = 10
# Rejected CSV lines kept for the change page after an import (the message gives the total).
REJECTED_SHOWN = 200
IMPORT_SESSION_KEY = "campaigns.import_rejected"

RULES_HELP = _(
    "The rules as JSON; the builder above writes it. To import a segment, paste its JSON here "
    "(the rule tree, or a whole file saved with “Export JSON”): the builder redraws from it."
)


# --- Forms --------------------------------------------------------------------------------------


def normalise_rules(rules: Any) -> Any:
    """What a person typed or pasted, as the tree to validate: empty is every customer, and a
    whole exported segment file stands for its rules."""
    if rules in (None, "", {}):
        return {"all": []}
    if isinstance(rules, dict) and "rules" in rules and not {"all", "any", "field"} & set(rules):
        return normalise_rules(rules["rules"])
    return rules


class SegmentAdminForm(forms.ModelForm):
    class Meta:
        model = Segment
        fields = ("name", "description", "kind", "rules")
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2, "cols": 60}),
            # JSON reads left to right in Persian and Arabic pages too.
            "rules": forms.Textarea(
                attrs={"rows": 8, "cols": 80, "dir": "ltr", "spellcheck": "false"}
            ),
        }
        help_texts = {"rules": RULES_HELP}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "rules" in self.fields:
            self.fields["rules"].required = False  # empty means every customer
            if not self.is_bound and not self.initial.get("rules"):
                self.initial["rules"] = {"all": []}

    def clean_rules(self) -> Any:
        rules = self.cleaned_data.get("rules")
        if self.cleaned_data.get("kind") == Segment.Kind.STATIC:
            return rules  # ignored, see clean()
        rules = normalise_rules(rules)
        errors = segments.validate(rules, segment_id=self.instance.pk)
        if errors:
            raise ValidationError([ValidationError(e, code="invalid_rule") for e in errors])
        return rules

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("kind") == Segment.Kind.STATIC:
            # A fixed list has no rules and the builder is hidden: whatever the box holds is
            # ignored, and the stored rules stay for a switch back to rules.
            self._errors.pop("rules", None)
            cleaned["rules"] = self.instance.rules if self.instance.pk else {}
        return cleaned


class MemberImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "A header row with any of email, phone, user_id or id, then one customer a line. "
            "Lines that match no customer are listed, not fatal."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )


# --- Counts and samples -------------------------------------------------------------------------


def customer_sample(queryset: QuerySet[Customer]) -> list[dict[str, str]]:
    """The first customers of a member query with their email and phone: three queries
    (count aside), whatever the sample or the population."""
    contacts = Prefetch(
        "identities",
        queryset=Identity.objects.filter(
            kind__in=[Identity.Kind.EMAIL, Identity.Kind.PHONE]
        ).order_by("-verified", "created_at", "pk"),
        to_attr="sample_contacts",
    )
    rows = []
    for customer in queryset.prefetch_related(contacts)[:SAMPLE_SIZE]:
        first: dict[str, str] = {}
        for identity in customer.sample_contacts:  # type: ignore[attr-defined]
            first.setdefault(identity.kind, identity.value)
        rows.append(
            {
                "name": customer.display_name,
                "url": customer_url(customer),
                "email": first.get(Identity.Kind.EMAIL, ""),
                "phone": first.get(Identity.Kind.PHONE, ""),
            }
        )
    return rows


def can_see_customers(request: HttpRequest) -> bool:
    return request.user.has_perm("customers.view_customer")


def count_summary(count: int) -> str:
    return ngettext("%(count)d customer matches.", "%(count)d customers match.", count) % {
        "count": count
    }


class _Echo:
    """A file that hands back what is written, for streaming csv.writer rows."""

    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[list[str]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow(row)


# --- The admin ----------------------------------------------------------------------------------


@admin.register(Segment)
class SegmentAdmin(ViewerTimeZoneMixin, admin.ModelAdmin):
    form = SegmentAdminForm
    change_form_template = "admin/campaigns/segment/change_form.html"
    # No member count here: each would run the segment's query over every customer.
    list_display = ("name", "kind", "short_description", "updated_at")
    list_filter = ("kind",)
    search_fields = ("name",)
    show_facets = admin.ShowFacets.NEVER
    readonly_fields = ("created_by", "created_at", "updated_at")

    def get_fieldsets(self, request: HttpRequest, obj: Segment | None = None) -> Any:
        fieldsets: list[tuple[Any, dict[str, Any]]] = [
            (None, {"fields": ("name", "description", "kind")}),
            (_("Rules"), {"fields": ("rules",), "classes": ("crm-segment-rules",)}),
        ]
        if obj is not None:
            fieldsets.append(
                (_("Record"), {"fields": (("created_by", "created_at", "updated_at"),)})
            )
        return fieldsets

    def get_queryset(self, request: HttpRequest) -> QuerySet[Segment]:
        return super().get_queryset(request).select_related("created_by")

    @admin.display(description=_("description"))
    def short_description(self, segment: Segment) -> str:
        return Truncator(segment.description).chars(80)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        """A segment other segments' rules name is protected, as a campaign's is by its key."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        for other in segments.referring(list(objs)):
            protected.append(_("Segment “%(name)s”, whose rules use it") % {"name": other.name})
        return deleted, counts, perms_needed, protected

    def save_model(self, request: HttpRequest, obj: Segment, form: Any, change: bool) -> None:
        if not change and obj.created_by_id is None:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    # --- Change page ------------------------------------------------------------------------------

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Segment | None = None,
    ) -> HttpResponse:
        context["segment_builder"] = builder_choices(obj)
        context["preview_url"] = reverse("admin:campaigns_segment_preview")
        if obj is not None and obj.pk:
            context.update(self.members_context(request, obj))
            if obj.kind == Segment.Kind.STATIC and self.has_change_permission(request, obj):
                context["import_form"] = MemberImportForm()
                context["import_url"] = reverse("admin:campaigns_segment_import", args=[obj.pk])
            stashed = request.session.pop(IMPORT_SESSION_KEY, None)
            if stashed and stashed.get("segment") == obj.pk:
                context["import_rejected"] = stashed
        return super().render_change_form(request, context, add, change, form_url, obj)

    def members_context(self, request: HttpRequest, segment: Segment) -> dict[str, Any]:
        """The segment's members now: a count and a sample, in a fixed number of queries."""
        try:
            queryset = segments.members(segment)
        except segments.SegmentError as error:  # e.g. a segment it names was deleted
            return {"members_errors": error.errors}
        total = queryset.count()
        return {
            "members_count": total,
            "members_summary": count_summary(total),
            "members_sample": customer_sample(queryset) if can_see_customers(request) else None,
        }

    # --- Extra views --------------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        view = self.admin_site.admin_view
        return [
            # Before the default URLs: "<path:object_id>/" would take "preview/" as an id.
            path("preview/", view(self.preview_view), name=f"{info}_preview"),
            path("<path:object_id>/export/", view(self.export_view), name=f"{info}_export"),
            path("<path:object_id>/audience/", view(self.audience_view), name=f"{info}_audience"),
            path("<path:object_id>/import/", view(self.import_view), name=f"{info}_import"),
            *super().get_urls(),
        ]

    def has_export_permission(self, request: HttpRequest, segment: Segment) -> bool:
        """Rules and audience downloads: their own permission (Marketing has it), audited."""
        return self.has_view_permission(request, segment) and request.user.has_perm(
            "campaigns.export_segment"
        )

    def _segment_or_404(self, request: HttpRequest, object_id: str) -> Segment:
        segment = self.get_object(request, unquote(object_id))
        if segment is None:
            raise Http404
        return segment

    def preview_view(self, request: HttpRequest) -> HttpResponse:
        """The live count for the builder: POST ``{"rules": ..., "segment": id?}``, answers
        ``{"count", "summary", "sample"}``, or ``{"errors"}`` with 400 for rules that do not
        compile."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            body = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            message = _('Send a JSON object: {"rules": ...}.')
            return JsonResponse({"errors": [str(message)]}, status=400)
        segment_id = body.get("segment")
        if not isinstance(segment_id, int) or isinstance(segment_id, bool) or segment_id < 1:
            segment_id = None  # only used to refuse a segment that includes itself
        rules = normalise_rules(body.get("rules"))
        errors = segments.validate(rules, segment_id=segment_id)
        if errors:
            return JsonResponse({"errors": errors}, status=400)
        draft = Segment(pk=segment_id, kind=Segment.Kind.DYNAMIC, rules=rules)
        try:
            queryset = segments.members(draft)
        except segments.SegmentError as error:
            return JsonResponse({"errors": error.errors}, status=400)
        total = queryset.count()
        return JsonResponse(
            {
                "count": total,
                "summary": count_summary(total),
                "sample": customer_sample(queryset) if can_see_customers(request) else [],
            }
        )

    def export_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The segment as a JSON file; pasting it into another segment's rules imports it."""
        segment = self._segment_or_404(request, object_id)
        if not self.has_export_permission(request, segment):
            raise PermissionDenied
        audit.record(audit.Action.SEGMENT_EXPORT, request=request, target=segment, what="rules")
        document = {
            "name": segment.name,
            "description": segment.description,
            "kind": segment.kind,
            "rules": segment.rules,
        }
        response = HttpResponse(
            json.dumps(document, ensure_ascii=False, indent=2),
            content_type="application/json; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="segment-{segment.pk}.json"'
        return response

    def audience_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Hashed emails and phones of the members, streamed as CSV for ad platforms."""
        segment = self._segment_or_404(request, object_id)
        if not self.has_export_permission(request, segment):
            raise PermissionDenied
        change_url = reverse("admin:campaigns_segment_change", args=[segment.pk])
        try:
            # Compiled here, so a segment that cannot run (a segment it names was deleted)
            # says so on its page rather than breaking a half-sent download.
            segments.members(segment)
            rows = services.audience_rows(segment)
            header = next(rows)
        except (DomainError, segments.SegmentError) as error:
            message = error.message if isinstance(error, DomainError) else "; ".join(error.errors)
            self.message_user(request, message, messages.ERROR)
            return redirect(change_url)
        audit.record(audit.Action.SEGMENT_EXPORT, request=request, target=segment, what="audience")
        response = StreamingHttpResponse(
            csv_lines(itertools.chain([header], rows)), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = (
            f'attachment; filename="segment-{segment.pk}-audience.csv"'
        )
        return response

    def import_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Add the customers of an uploaded CSV to a fixed list; bad lines are reported."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        segment = self._segment_or_404(request, object_id)
        if not self.has_change_permission(request, segment):
            raise PermissionDenied
        change_url = reverse("admin:campaigns_segment_change", args=[segment.pk])
        if segment.kind != Segment.Kind.STATIC:
            self.message_user(
                request, _("Only a fixed list takes a CSV of customers."), messages.ERROR
            )
            return redirect(change_url)
        form = MemberImportForm(request.POST, request.FILES)
        if not form.is_valid():
            problems = [str(e) for errors in form.errors.values() for e in errors]
            self.message_user(request, " ".join(problems), messages.ERROR)
            return redirect(f"{change_url}#segment-import")
        try:
            result = services.import_members(segment, form.cleaned_data["file"], by=request.user)
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
            return redirect(f"{change_url}#segment-import")
        added = ngettext("%(count)d customer added", "%(count)d customers added", result.added) % {
            "count": result.added
        }
        already = ngettext(
            "%(count)d was already on the list",
            "%(count)d were already on the list",
            result.already,
        ) % {"count": result.already}
        summary = _("Import done: %(added)s, %(already)s.") % {"added": added, "already": already}
        self.message_user(request, summary, messages.SUCCESS)
        if result.rejected:
            self.message_user(
                request,
                ngettext(
                    "%(count)d line was rejected; see the table below.",
                    "%(count)d lines were rejected; see the table below.",
                    len(result.rejected),
                )
                % {"count": len(result.rejected)},
                messages.WARNING,
            )
            request.session[IMPORT_SESSION_KEY] = {
                "segment": segment.pk,
                "total": len(result.rejected),
                "rows": [
                    {"line": r.line, "value": r.value, "reason": str(r.reason)}
                    for r in result.rejected[:REJECTED_SHOWN]
                ],
            }
        return redirect(f"{change_url}#segment-import")

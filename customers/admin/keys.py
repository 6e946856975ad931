"""Sources and their API keys: create a key (shown once), rotate, revoke."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from customers import apikeys
from customers.admin.base import ViewerTimeZoneMixin
from customers.errors import DomainError
from customers.models import ApiKey, Source


class NewKeyForm(forms.Form):
    name = forms.CharField(label=_("label"), max_length=100, required=False)
    scopes = forms.MultipleChoiceField(
        label=_("scopes"),
        choices=ApiKey.Scope.choices,
        initial=[s for s in ApiKey.Scope.values if s != ApiKey.Scope.PRIVACY],
        widget=forms.CheckboxSelectMultiple,
    )


def _show_once(request: HttpRequest, key: ApiKey, raw: str) -> TemplateResponse:
    """The only page that ever shows a key in full."""
    return TemplateResponse(
        request,
        "admin/customers/source/key_created.html",
        {
            **admin.site.each_context(request),
            "title": _("New API key for %(source)s") % {"source": key.source},
            "key": key,
            "raw": raw,
            "opts": Source._meta,
        },
    )


@admin.register(Source)
class SourceAdmin(ViewerTimeZoneMixin, admin.ModelAdmin):
    list_display = ("name", "kind", "trusted", "active", "rate_limit", "created_at")
    list_filter = ("kind", "trusted", "active")
    search_fields = ("name",)
    actions = ["create_key"]

    @admin.action(description=_("Create an API key"), permissions=["change"])
    def create_key(self, request: HttpRequest, queryset: QuerySet[Source]) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, _("Choose one source."), messages.ERROR)
            return None
        source = queryset.get()
        form = NewKeyForm(request.POST if "confirm" in request.POST else None)
        if form.is_valid():
            key, raw = apikeys.create_key(
                source,
                scopes=form.cleaned_data["scopes"],
                name=form.cleaned_data["name"],
                by=request.user,
            )
            return _show_once(request, key, raw)
        return TemplateResponse(
            request,
            "admin/customers/source/new_key.html",
            {
                **self.admin_site.each_context(request),
                "title": _("New API key for %(source)s") % {"source": source},
                "form": form,
                "source": source,
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )


@admin.register(ApiKey)
class ApiKeyAdmin(ViewerTimeZoneMixin, admin.ModelAdmin):
    list_display = ("masked", "source", "name", "scope_list", "state", "created_at", "last_used_at")
    list_filter = ("source",)
    list_select_related = ("source",)
    readonly_fields = (
        "masked",
        "source",
        "scopes",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    fields = (
        "masked",
        "name",
        "source",
        "scopes",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    actions = ["rotate", "revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # keys are made from their source ("Create an API key"), shown once

    @admin.display(description=_("key"))
    def masked(self, key: ApiKey) -> str:
        return f"{apikeys.KEY_MARK}{key.prefix}…"

    @admin.display(description=_("scopes"))
    def scope_list(self, key: ApiKey) -> str:
        return ", ".join(key.scopes)

    @admin.display(description=_("state"))
    def state(self, key: ApiKey) -> str:
        if key.revoked_at:
            return format_html('<span style="color: var(--error-fg)">{}</span>', _("revoked"))
        return str(_("active"))

    @admin.action(
        description=_("Rotate (new key, the old one stops at once)"), permissions=["change"]
    )
    def rotate(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, _("Rotate one key at a time."), messages.ERROR)
            return None
        try:
            key, raw = apikeys.rotate_key(queryset.get(), by=request.user)
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
            return None
        return _show_once(request, key, raw)

    @admin.action(description=_("Revoke"), permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        live = list(queryset.filter(revoked_at__isnull=True))
        for key in live:
            apikeys.revoke_key(key, by=request.user)
        self.message_user(
            request,
            ngettext("Revoked %(count)d key.", "Revoked %(count)d keys.", len(live))
            % {"count": len(live)},
            messages.SUCCESS,
        )

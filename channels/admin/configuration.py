"""Configuration screens of the channels admin: channels (secrets write-only), message
templates with a preview for a real customer, frequency caps and holidays."""

from __future__ import annotations

import json
import logging
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from channels import links, rendering
from channels.forms import (
    ChannelAdminForm,
    PreviewCustomerForm,
    TemplateAdminForm,
    mask_secrets,
)
from channels.models import Channel, FrequencyCap, Holiday, Message, Template, changed_secrets
from customers import selectors
from customers.identity import to_latin_digits
from customers.models import Customer
from security import audit, crypto

logger = logging.getLogger(__name__)

# Customers offered when a preview search matches several.
PREVIEW_MATCHES = 20


def absolute_url(path_: str) -> str:
    return settings.SITE_URL.rstrip("/") + path_


# --- Channels ---------------------------------------------------------------------------------


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    """Secrets are write-only: never in the list, masked in the form, kept when left as shown."""

    form = ChannelAdminForm
    list_display = ("name", "kind", "backend_label", "sender", "rate_limit", "priority", "active")
    list_filter = ("kind", "active")
    search_fields = ("name", "sender")
    fieldsets = (
        (None, {"fields": ("name", "kind", "backend", "settings", "sender", "active")}),
        (
            _("Sending"),
            {
                "fields": (
                    ("rate_limit", "priority"),
                    ("window_start", "window_end"),
                    "skip_rest_days",
                )
            },
        ),
        (
            _("Provider webhooks"),
            {"fields": ("webhook_secret", "clear_webhook_secret", "webhook_urls")},
        ),
    )
    readonly_fields = ("webhook_urls", "masked_settings", "webhook_secret_state")
    # Shown instead of the raw fields to whoever may only view a channel (support agents).
    VIEW_ONLY = {"settings": "masked_settings", "webhook_secret": "webhook_secret_state"}

    def get_fieldsets(self, request: HttpRequest, obj: Channel | None = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or self.has_change_permission(request, obj):
            return fieldsets
        # A read-only change page prints every field's raw value, secrets included.
        return [
            (
                title,
                {
                    **options,
                    "fields": [
                        self.VIEW_ONLY.get(name, name)
                        for name in flatten_fieldsets([(title, options)])
                        if name != "clear_webhook_secret"
                    ],
                },
            )
            for title, options in fieldsets
        ]

    def save_model(self, request: HttpRequest, obj: Channel, form: Any, change: bool) -> None:
        """Save, and audit which secrets changed (their names, never their values) in the
        admin's transaction."""
        before = (
            Channel.objects.filter(pk=obj.pk).values("settings", "webhook_secret").first()
            if change
            else None
        ) or {"settings": {}, "webhook_secret": ""}
        super().save_model(request, obj, form, change)
        keys = changed_secrets(before["settings"], obj.settings)
        if _opened(before["webhook_secret"]) != _opened(obj.webhook_secret):
            keys.append("webhook_secret")
        if keys:
            audit.record(audit.Action.SECRET_CHANGE, request=request, target=obj, keys=keys)

    @admin.display(description=_("backend"), ordering="backend")
    def backend_label(self, channel: Channel) -> str:
        return str(Channel.BACKENDS.get(channel.backend, channel.backend))

    @admin.display(description=_("settings"))
    def masked_settings(self, channel: Channel) -> SafeString:
        shown = json.dumps(mask_secrets(channel.settings or {}), ensure_ascii=False, indent=2)
        return format_html('<pre class="crm-code" dir="ltr">{}</pre>', shown)

    @admin.display(description=_("webhook secret"))
    def webhook_secret_state(self, channel: Channel) -> str:
        return str(_("Set") if channel.webhook_secret else _("Not set"))

    @admin.display(description=_("webhook addresses"))
    def webhook_urls(self, channel: Channel) -> SafeString | str:
        if channel.pk is None:
            return str(_("Shown once the channel is saved."))
        rows = [
            (
                _("Delivery status"),
                absolute_url(reverse("channels:hook-status", args=[channel.pk])),
            ),
            (
                _("Inbound replies"),
                absolute_url(reverse("channels:hook-inbound", args=[channel.pk])),
            ),
        ]
        return format_html(
            '<dl class="crm-webhooks">{}</dl><div class="help">{}</div>',
            format_html_join("", '<dt>{}</dt><dd><bdi class="crm-identifier">{}</bdi></dd>', rows),
            _("Give these to the provider; it signs its calls with the webhook secret."),
        )


def _opened(secret: str) -> str:
    try:
        return crypto.reveal(secret or "")
    except crypto.DecryptionError:
        return secret  # compared as stored


# --- Templates --------------------------------------------------------------------------------


@admin.register(Template)
class TemplateAdmin(admin.ModelAdmin):
    form = TemplateAdminForm
    change_form_template = "admin/channels/template/change_form.html"
    preview_template = "admin/channels/template/preview.html"
    list_display = ("key", "kind", "locale", "subject", "active", "updated_at")
    list_filter = ("kind", "locale", "active")
    search_fields = ("key", "subject")
    fieldsets = (
        (None, {"fields": (("key", "kind", "locale"), "active")}),
        (_("Content"), {"fields": ("subject", "text", "html")}),
    )

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="{}_{}_preview".format(*info),
            ),
            *super().get_urls(),
        ]

    def preview_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The template rendered for one real customer, in their language; a template that
        breaks at run time shows its error here rather than at send time."""
        template = self.get_object(request, unquote(object_id))
        if template is None:
            raise Http404
        if not self.has_view_permission(request, template) or not request.user.has_perm(
            "customers.view_customer"
        ):
            raise PermissionDenied
        form = PreviewCustomerForm(request.GET or None)
        term = form.cleaned_data["q"].strip() if form.is_valid() else ""
        customer, matches = None, []
        if request.GET.get("customer", "").isdigit():
            customer = Customer.objects.filter(pk=int(request.GET["customer"])).first()
        elif term:
            matches = find_customers(term)
            if len(matches) == 1:
                customer = matches[0]
        rendered, error = (None, None) if customer is None else render_preview(template, customer)
        language = rendering.language_of(customer) if customer else ""
        context = {
            **self.admin_site.each_context(request),
            "title": _("Preview of %(template)s") % {"template": template},
            "opts": self.opts,
            "original": template,
            "form": form,
            "term": term,
            "matches": matches,
            "customer": customer,
            "customer_language": language,
            "customer_language_name": dict(settings.LANGUAGES).get(language, language),
            "rendered": rendered,
            "error": error,
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.preview_template, context)


def find_customers(term: str) -> list[Customer]:
    """Customers a preview may be rendered for: by name, email, phone, public id, or id."""
    found = list(
        selectors.search_customers(
            Customer.objects.filter(merged_into__isnull=True), term
        ).order_by("-last_seen_at", "-pk")[:PREVIEW_MATCHES]
    )
    digits = to_latin_digits(term)
    if digits.isdigit() and len(digits) < 12 and all(c.pk != int(digits) for c in found):
        by_id = Customer.objects.filter(pk=int(digits)).first()
        if by_id is not None:
            found.insert(0, by_id)
    return found


def render_preview(
    template: Template, customer: Customer
) -> tuple[rendering.Rendered | None, str | None]:
    """The rendered parts, or the error that stopped them (never an exception: a broken
    template is what a preview is for)."""
    # The real unsubscribe link needs a message; a key that names no message looks the same.
    draft = Message(customer=customer, idempotency_key=f"preview:{template.pk}")
    context = rendering.base_context(customer, {})
    context["unsubscribe_url"] = links.unsubscribe_url(draft)
    try:
        return (
            rendering.render(
                customer=customer,
                subject=template.subject,
                text=template.text,
                html=template.html,
                context=context,
            ),
            None,
        )
    except Exception as error:  # any template error, or a filter failing on this customer
        logger.info("channels.preview_failed template=%s", template.pk, exc_info=True)
        return None, f"{type(error).__name__}: {error}"


# --- Rules that hold messages -----------------------------------------------------------------


@admin.register(FrequencyCap)
class FrequencyCapAdmin(admin.ModelAdmin):
    list_display = ("name", "limit", "period", "action", "active")
    list_filter = ("action", "active")


@admin.register(Holiday)
class HolidayAdmin(admin.ModelAdmin):
    list_display = ("date", "name", "region")
    list_filter = ("region",)
    search_fields = ("name",)
    date_hierarchy = "date"

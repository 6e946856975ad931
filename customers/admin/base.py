"""Pieces every customers admin page shares: the viewer's time zone, links, channel icons."""

from __future__ import annotations

import zoneinfo
from datetime import tzinfo
from typing import Any
from urllib.parse import unquote

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.safestring import SafeString

from customers.models import ChannelKind, Customer

# Set by static/customers/timezone.js from the browser; a session value (set by a future
# preferences page) wins over it.
TIME_ZONE_COOKIE = "crm_tz"
TIME_ZONE_SESSION_KEY = "django_timezone"

# One symbol per channel; templates always pair it with the channel's name for screen readers.
CHANNEL_ICONS: dict[str, str] = {
    ChannelKind.WEB: "🌐",
    ChannelKind.APP: "📱",
    ChannelKind.EMAIL: "✉️",
    ChannelKind.SMS: "💬",
    ChannelKind.PHONE: "📞",
    ChannelKind.STORE: "🏬",
    ChannelKind.CHAT: "🗨️",
    ChannelKind.WHATSAPP: "🟢",
    ChannelKind.TELEGRAM: "✈️",
    ChannelKind.INSTAGRAM: "📷",
    ChannelKind.PUSH: "🔔",
    ChannelKind.OTHER: "•",
}
CHANNEL_LABELS: dict[str, Any] = dict(ChannelKind.choices)


def channel_badge(channel: str) -> dict[str, Any]:
    """What a template needs to draw one channel: value, icon and translated label."""
    return {
        "value": channel,
        "icon": CHANNEL_ICONS.get(channel, CHANNEL_ICONS[ChannelKind.OTHER]),
        "label": CHANNEL_LABELS.get(channel, channel),
    }


def viewer_time_zone(request: HttpRequest) -> tzinfo:
    """The time zone the viewing user reads times in: session, then browser cookie, else default."""
    for raw in (
        request.session.get(TIME_ZONE_SESSION_KEY) if hasattr(request, "session") else None,
        request.COOKIES.get(TIME_ZONE_COOKIE),
    ):
        if not raw:
            continue
        try:
            return zoneinfo.ZoneInfo(unquote(str(raw)))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # "Asia" is a folder
            continue
    return timezone.get_current_timezone()


def render_in_viewer_time_zone(
    request: HttpRequest, view: Any, *args: Any, **kwargs: Any
) -> HttpResponse:
    """Call an admin view and render its response with the viewer's time zone active."""
    with timezone.override(viewer_time_zone(request)):
        response: HttpResponse = view(request, *args, **kwargs)
        # A TemplateResponse renders lazily, after this block; render it while the zone is on.
        if hasattr(response, "render") and not getattr(response, "is_rendered", True):
            response.render()
        return response


class ViewerTimeZoneMixin:
    """Lists and change pages show every date-time in the viewing user's time zone."""

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        return render_in_viewer_time_zone(
            request, super().changelist_view, extra_context=extra_context
        )

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: Any = None,
    ) -> HttpResponse:
        return render_in_viewer_time_zone(
            request, super().changeform_view, object_id, form_url, extra_context
        )


def admin_link(obj: Model | None, text: Any = None) -> SafeString | str:
    """A link to an object's admin change page, or "-" for None."""
    if obj is None:
        return admin.site.empty_value_display
    opts = obj._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, text if text is not None else obj)


def customer_url(customer: Customer | int) -> str:
    pk = customer if isinstance(customer, int) else customer.pk
    return reverse("admin:customers_customer_change", args=[pk])


class ReadOnlyAdminMixin:
    """A log kept by the services: staff read it, nobody adds, edits or deletes rows here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class EstimatedCountPaginator(Paginator):
    """Counts exactly, except a whole big PostgreSQL table, where the planner's estimate will do.

    The admin counts the list on every page; ``COUNT(*)`` over millions of interactions is a
    full scan, and "about 3,200,000" is as useful to an agent as the exact number.
    """

    ESTIMATE_ABOVE = 100_000

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        connection = connections[getattr(queryset, "db", "default")]
        query = getattr(queryset, "query", None)
        if connection.vendor == "postgresql" and query is not None and not query.where:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                    [queryset.model._meta.db_table],
                )
                row = cursor.fetchone()
            if row and row[0] > self.ESTIMATE_ABOVE:
                return int(row[0])
        return super().count

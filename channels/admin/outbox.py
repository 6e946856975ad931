"""The outbox in the admin (read-only) and the customer page's two panels: what is coming and
what was held ("why not sent"), and an agent's one-off message, posted to MessageAdmin."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import F, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from channels import casework, policy, services
from channels.forms import SendMessageForm
from channels.models import Channel, Message
from customers.admin import panels
from customers.admin.base import (
    EstimatedCountPaginator,
    ReadOnlyAdminMixin,
    ViewerTimeZoneMixin,
    admin_link,
    channel_badge,
    customer_url,
)
from customers.errors import DomainError
from customers.identity import normalize_email, normalize_phone, to_latin_digits
from customers.models import Customer

# An invalid "send a message" form survives the redirect back to the customer page here.
SEND_FORM_SESSION_KEY = "channels.send_message"
# Rows per list in the customer page's outbox panel: its cost must not grow with the history.
PANEL_ROWS = 20
AGENT_INTENT = "agent"
INTENT_LABELS = {
    "checkout": _("Checkout reminder"),
    "cart": _("Cart reminder"),
    "browse": _("Browse reminder"),
    policy.CAMPAIGN: _("Campaign"),
    AGENT_INTENT: _("Agent's message"),
}
KIND_LABELS: dict[str, Any] = dict(Channel.Kind.choices)
HELD = (Message.Status.SUPPRESSED, Message.Status.FAILED, Message.Status.BOUNCED)


# --- The outbox -------------------------------------------------------------------------------


class KindFilter(admin.SimpleListFilter):
    """The channel kinds; a plain field filter would run SELECT DISTINCT over the outbox."""

    title = _("channel kind")
    parameter_name = "kind"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return list(Channel.Kind.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Message]) -> QuerySet[Message]:
        return queryset.filter(kind=self.value()) if self.value() else queryset


class IntentFilter(admin.SimpleListFilter):
    """The intents the services write (free text on the row, so no SELECT DISTINCT either)."""

    title = _("intent")
    parameter_name = "intent"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return list(INTENT_LABELS.items())

    def queryset(self, request: HttpRequest, queryset: QuerySet[Message]) -> QuerySet[Message]:
        return queryset.filter(intent=self.value()) if self.value() else queryset


@admin.register(Message)
class MessageAdmin(ReadOnlyAdminMixin, ViewerTimeZoneMixin, admin.ModelAdmin):
    """The outbox, read-only: the services write it; agents send from the customer page."""

    list_display = (
        "created_at",
        "customer_link",
        "kind",
        "recipient",
        "purpose",
        "intent",
        "status",
        "held_by",
        "attempts",
    )
    list_filter = ("status", KindFilter, "purpose", IntentFilter)
    list_select_related = ("customer",)
    # Only switches the search box on: get_search_results() does the searching.
    search_fields = ("to",)
    search_help_text = _("The exact address (email, phone in any digits), provider id or key.")
    # Newest first by the primary key: created_at alone has no index (the customer's has).
    ordering = ("-pk",)
    paginator = EstimatedCountPaginator
    list_per_page = 50
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    fieldsets = (
        (
            None,
            {
                "fields": (
                    ("customer", "channel", "kind"),
                    ("address", "to"),
                    ("purpose", "intent", "template"),
                    "idempotency_key",
                    "agent",
                )
            },
        ),
        (_("Status"), {"fields": (("status", "rule"), "reason", "not_before", "attempts")}),
        (_("Content"), {"fields": ("subject", "text", "html_preview", "links", "context")}),
        (
            _("Delivery"),
            {
                "fields": (
                    "provider_id",
                    ("created_at", "updated_at"),
                    ("sending_at", "sent_at", "delivered_at", "failed_at"),
                    ("opened_at", "clicked_at", "replied_at"),
                )
            },
        ),
    )
    readonly_fields = ("html_preview",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Message]:
        queryset = super().get_queryset(request)
        # The list never shows the bodies; the change page needs them.
        url_name = getattr(request.resolver_match, "url_name", None) or ""
        if url_name.endswith("_changelist"):
            queryset = queryset.defer("text", "html", "links", "context")
        return queryset

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Message], search_term: str
    ) -> tuple[QuerySet[Message], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        # Exact values only (each lookup is indexed or the key is unique): no substring scans.
        addresses = {term, to_latin_digits(term), normalize_email(term), normalize_phone(term)}
        addresses -= {None, ""}
        matches = (
            queryset.filter(to__in=sorted(addresses))
            | queryset.filter(provider_id=term)
            | queryset.filter(idempotency_key=term)
        )
        return matches, False

    @admin.display(description=_("customer"), ordering="customer")
    def customer_link(self, message: Message) -> SafeString | str:
        return admin_link(message.customer)

    @admin.display(description=_("to"), ordering="to")
    def recipient(self, message: Message) -> SafeString | str:
        if not message.to:
            return self.get_empty_value_display()
        return format_html('<bdi class="crm-identifier">{}</bdi>', message.to)

    @admin.display(description=_("rule / reason"))
    def held_by(self, message: Message) -> SafeString | str:
        if not (message.rule or message.reason):
            return self.get_empty_value_display()
        return format_html(
            '<span class="crm-rule">{}</span> <span dir="auto">{}</span>',
            message.rule,
            message.reason,
        )

    @admin.display(description=_("HTML"))
    def html_preview(self, message: Message) -> SafeString | str:
        if not message.html:
            return self.get_empty_value_display()
        # srcdoc in a sandbox without allow-scripts or allow-same-origin: the provider-bound
        # HTML runs nothing and reaches nothing of the admin.
        return format_html(
            '<iframe class="crm-preview-frame" sandbox srcdoc="{}" title="{}"></iframe>',
            message.html,
            _("HTML part"),
        )

    # --- Send a one-off message (the customer page's form posts here) ---------------------

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "send/<int:customer_id>/",
                self.admin_site.admin_view(self.send_view),
                name="{}_{}_send".format(*info),
            ),
            *super().get_urls(),
        ]

    def send_view(self, request: HttpRequest, customer_id: int) -> HttpResponse:
        """Queue an agent's message through the outbox (consent and bounces still apply); the
        form's token is the idempotency key, so a double submit sends once."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not can_send(request):
            raise PermissionDenied
        customer = Customer.objects.filter(pk=customer_id).first()
        if customer is None:
            raise Http404
        page = customer_url(customer)
        if customer.is_merged:
            self.message_user(
                request,
                _("This profile was merged; send from the one it was merged into."),
                messages.ERROR,
            )
            return redirect(page)
        form = SendMessageForm(request.POST, kinds=active_kinds())
        if not form.is_valid():
            request.session[SEND_FORM_SESSION_KEY] = {
                "customer": customer.pk,
                "data": {name: request.POST.get(name, "") for name in form.fields},
            }
            self.message_user(
                request,
                _("The message was not sent: please correct the errors below."),
                messages.ERROR,
            )
            return redirect(f"{page}#send-message")
        data = form.cleaned_data
        try:
            message = casework.send_agent_message(
                customer,
                purpose=Message.Purpose.TRANSACTIONAL,
                content=services.Content(data["text"], data.get("subject", "")),
                channels=[data["kind"]],
                idempotency_key=f"agent:{data['token']}",
                intent=AGENT_INTENT,
                agent=request.user,
            )
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
            return redirect(f"{page}#send-message")
        if message.customer_id != customer.pk:
            # A token already spent on another customer's page (a copied form): nothing sent.
            self.message_user(request, _("This form was already used; try again."), messages.ERROR)
            return redirect(f"{page}#send-message")
        self._report(request, message)
        return redirect(f"{page}#customer-messages")

    def _report(self, request: HttpRequest, message: Message) -> None:
        kind = KIND_LABELS.get(message.kind, message.kind)
        if message.status == Message.Status.SUPPRESSED:
            self.message_user(
                request,
                _("Not sent on %(kind)s: %(reason)s") % {"kind": kind, "reason": message.reason},
                messages.WARNING,
            )
        elif message.status == Message.Status.QUEUED:
            self.message_user(
                request,
                _("Queued on %(kind)s to %(to)s.") % {"kind": kind, "to": message.to},
                messages.SUCCESS,
            )
        else:  # a repeated submit, after the first one went out
            self.message_user(
                request,
                _("%(status)s on %(kind)s to %(to)s.")
                % {"status": message.get_status_display(), "kind": kind, "to": message.to},
                messages.SUCCESS,
            )


# --- Panels on the customer page --------------------------------------------------------------


def can_send(request: HttpRequest) -> bool:
    return request.user.has_perm("channels.add_message") and request.user.has_perm(
        "customers.view_customer"
    )


def active_kinds() -> list[str]:
    """Kinds of the active channels, in the declared order of kinds (one query)."""
    present = set(
        Channel.objects.filter(active=True).order_by().values_list("kind", flat=True).distinct()
    )
    return [kind for kind in Channel.Kind.values if kind in present]


def outbox_panel(request: HttpRequest, customer: Customer) -> dict[str, Any] | None:
    """What is coming (queued, deferred, sending) and what was held or failed, with the rule
    and reason: two capped queries, whatever the customer's history."""
    if customer.is_merged or not request.user.has_perm("channels.view_message"):
        return None  # a tombstone's messages moved to the survivor with the rest
    rows = Message.objects.filter(customer=customer).defer("html", "links", "context")
    coming = list(
        rows.filter(status__in=Message.PENDING).order_by(
            F("not_before").asc(nulls_first=True), "created_at", "pk"
        )[: PANEL_ROWS + 1]
    )
    held = list(rows.filter(status__in=HELD).order_by("-updated_at", "-pk")[: PANEL_ROWS + 1])
    changelist = reverse("admin:channels_message_changelist")
    return {
        "coming": [_row(message) for message in coming[:PANEL_ROWS]],
        "coming_more": len(coming) > PANEL_ROWS,
        "held": [_row(message) for message in held[:PANEL_ROWS]],
        "held_more": len(held) > PANEL_ROWS,
        "limit": PANEL_ROWS,
        # The customer page renders in the viewer's time zone (ViewerTimeZoneMixin).
        "time_zone": timezone.get_current_timezone_name(),
        "list_url": f"{changelist}?customer__id__exact={customer.pk}",
    }


def _row(message: Message) -> dict[str, Any]:
    badge = channel_badge(message.kind)
    badge["label"] = KIND_LABELS.get(message.kind, badge["label"])
    return {"message": message, "channel": badge}


def send_panel(request: HttpRequest, customer: Customer) -> dict[str, Any] | None:
    """The agent's one-off message form, on live profiles for agents who may send."""
    if customer.is_merged or not can_send(request):
        return None
    kinds = active_kinds()
    stashed = request.session.pop(SEND_FORM_SESSION_KEY, None)
    if stashed and stashed.get("customer") == customer.pk:
        form = SendMessageForm(stashed.get("data") or {}, kinds=kinds)
        form.is_valid()  # shows the errors the agent saw rejected
    else:
        form = SendMessageForm(kinds=kinds)
    return {
        "form": form,
        "kinds": kinds,
        "url": reverse("admin:channels_message_send", args=[customer.pk]),
    }


panels.register(
    "channels.outbox",
    template="admin/channels/panels/outbox.html",
    context=outbox_panel,
    order=10,
)
panels.register(
    "channels.send",
    template="admin/channels/panels/send_message.html",
    context=send_panel,
    order=20,
)

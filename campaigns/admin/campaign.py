"""Campaigns in the admin: the list, the form (campaign_form.py), the content each channel and
language has, buttons for the moves a person makes (schedule, unschedule, pause, resume, cancel:
the functions of ``scheduling`` and ``runs``, never the status field), a test send to oneself,
the runs and the audit trail.

Only a draft is edited here; past that, the page is read-only and changes only by its buttons.
``start`` and ``finish`` are the system's (beat and the fan-out), so they have no button.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import URLPattern, path, reverse
from django.utils import timezone, translation
from django.utils.dates import WEEKDAYS
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

from campaigns import lifecycle, runs, scheduling, segments
from campaigns.admin import results
from campaigns.admin.campaign_form import CampaignAdminForm, campaign_zone
from campaigns.models import Campaign, CampaignRun
from channels import links, rendering
from channels.backends.base import DeliveryError, Outgoing
from channels.models import Channel, Message, Template
from customers.admin.base import ViewerTimeZoneMixin, channel_badge
from customers.errors import DomainError
from customers.models import Customer

logger = logging.getLogger(__name__)

Status = Campaign.Status
# Marks a test send in the subject line (not translated: it reads the same in every inbox).
TEST_PREFIX = "[Test] "
# Rows shown on the change page; a recurring campaign gathers many runs and moves.
RUNS_SHOWN = 20
CHANGES_SHOWN = 100
# The moves a person makes here, with the function that makes each.
BUTTONS: dict[str, Callable[..., Any]] = {
    "schedule": scheduling.schedule,
    "unschedule": scheduling.unschedule,
    "pause": runs.pause,
    "resume": runs.resume,
    "cancel": scheduling.cancel,
}
DONE = {
    "unschedule": _("“%(name)s” is a draft again and off the schedule."),
    "pause": _("“%(name)s” is paused: no more messages go out until you resume it."),
    "resume": _("“%(name)s” is sending again."),
    "cancel": _("“%(name)s” is cancelled: no more messages go out."),
}
TEST_SEND_STATUSES = (Status.DRAFT, Status.SCHEDULED)
ARROW = mark_safe(' <span class="crm-arrow" aria-hidden="true">→</span> ')


# --- Showing a campaign -------------------------------------------------------------------------


def describe_crontab(text: str) -> str:
    """Common recurrences in words ("Every Saturday at 10:00"); others as their five fields."""
    fields = text.split()
    if len(fields) == 5:
        minute, hour, day_of_month, month, day_of_week = fields
        if minute.isdigit() and hour.isdigit() and (day_of_month, month) == ("*", "*"):
            at = f"{int(hour):02d}:{int(minute):02d}"
            if day_of_week == "*":
                return str(_("Every day at %(time)s") % {"time": at})
            days = day_of_week.split(",")
            if all(d.isdigit() and int(d) <= 7 for d in days):
                # cron counts from Sunday (0 or 7), Django's names from Monday (0).
                names = ", ".join(str(WEEKDAYS[(int(d) + 6) % 7]) for d in days)
                return str(_("Every %(days)s at %(time)s") % {"days": names, "time": at})
    return str(_("Recurring (%(crontab)s)") % {"crontab": text})


def schedule_summary(campaign: Campaign) -> str:
    """When the campaign goes out, in its own time zone: "at 2026-11-24 10:00 Asia/Tehran"."""
    if campaign.schedule == Campaign.Schedule.AT:
        if campaign.send_at is None:
            return str(_("At a time not chosen yet"))
        zone = campaign_zone(campaign)
        when = timezone.localtime(campaign.send_at, zone) if zone else campaign.send_at
        return str(
            _("at %(when)s %(zone)s")
            % {"when": when.strftime("%Y-%m-%d %H:%M"), "zone": campaign.time_zone}
        )
    if campaign.schedule == Campaign.Schedule.RECURRING:
        return f"{describe_crontab(campaign.crontab)} {campaign.time_zone}"
    return str(_("Send now"))


def status_badge(campaign: Campaign) -> SafeString:
    return format_html(
        '<span class="crm-campaign-status crm-campaign-{}">{}</span>',
        campaign.status,
        campaign.get_status_display(),
    )


def channels_html(kinds: list[str]) -> SafeString | str:
    if not kinds:
        return "-"
    badges = [channel_badge(kind) for kind in kinds]
    return format_html(
        '<span class="crm-campaign-channels">{}</span>',
        format_html_join(
            ARROW,
            '<span class="crm-channel"><span aria-hidden="true">{}</span> {}</span>',
            ((b["icon"], b["label"]) for b in badges),
        ),
    )


def person(user: Any) -> str:
    if user is None:
        return str(_("the system"))
    return user.get_full_name() or user.get_username()


# --- The admin ----------------------------------------------------------------------------------


@admin.register(Campaign)
class CampaignAdmin(ViewerTimeZoneMixin, admin.ModelAdmin):
    form = CampaignAdminForm
    change_form_template = "admin/campaigns/campaign/change_form.html"
    list_display = ("name", "segment", "status_label", "when", "channel_list", "updated_at")
    list_filter = ("status", "schedule")
    list_select_related = ("segment",)
    search_fields = ("name",)
    show_facets = admin.ShowFacets.NEVER
    autocomplete_fields = ("segment",)
    readonly_fields = ("status_label", "channel_list", "created_by", "created_at", "updated_at")

    class Media:
        css = {"all": ("campaigns/campaign.css",)}
        js = ("campaigns/campaign.js",)

    def get_fieldsets(self, request: HttpRequest, obj: Campaign | None = None) -> Any:
        editable = obj is None or self.has_change_permission(request, obj)
        fieldsets: list[tuple[Any, dict[str, Any]]] = [
            (
                None,
                {
                    "fields": (
                        "name",
                        "segment",
                        "channels" if editable else "channel_list",
                        "template_key",
                    )
                },
            ),
            (
                _("When"),
                {
                    "fields": (
                        "schedule",
                        "send_at",
                        "crontab",
                        "time_zone",
                        ("window_start", "window_end"),
                        "throttle_per_minute",
                    )
                },
            ),
            (_("Measuring"), {"fields": ("holdout_percent", ("goal_event", "goal_window"))}),
        ]
        if obj is not None:
            fieldsets.append(
                (
                    _("Record"),
                    {"fields": ("status_label", ("created_by", "created_at", "updated_at"))},
                )
            )
        return fieldsets

    # --- Who may do what ------------------------------------------------------------------------

    def has_change_permission(self, request: HttpRequest, obj: Campaign | None = None) -> bool:
        """Only a draft is edited; past that, only its buttons change it."""
        if obj is not None and obj.status != Status.DRAFT:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Campaign | None = None) -> bool:
        if obj is not None and obj.status != Status.DRAFT:
            return False
        return super().has_delete_permission(request, obj)

    def may_act(self, request: HttpRequest) -> bool:
        """Whether the buttons are for this person: change permission on campaigns, whatever
        the status (the page itself is read-only past draft)."""
        return super().has_change_permission(request)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        # Bulk deletion asks no campaign its status; drafts are deleted one by one.
        actions.pop("delete_selected", None)
        return actions

    # --- List -----------------------------------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> QuerySet[Campaign]:
        return super().get_queryset(request).select_related("segment", "created_by")

    @admin.display(description=_("status"), ordering="status")
    def status_label(self, campaign: Campaign) -> SafeString:
        return status_badge(campaign)

    @admin.display(description=_("schedule"), ordering="send_at")
    def when(self, campaign: Campaign) -> str:
        return schedule_summary(campaign)

    @admin.display(description=_("channels"))
    def channel_list(self, campaign: Campaign) -> SafeString | str:
        return channels_html(list(campaign.channels or []))

    # --- Saving ---------------------------------------------------------------------------------

    def save_model(self, request: HttpRequest, obj: Campaign, form: Any, change: bool) -> None:
        if not change:
            obj.created_by, obj.status = request.user, Status.DRAFT
            obj.save()
            return
        # The form's fields only: the status is the lifecycle's, moved meanwhile perhaps.
        own = {f.name for f in Campaign._meta.concrete_fields}
        obj.save(update_fields=[name for name in form.cleaned_data if name in own] + ["updated_at"])

    # --- Change page ----------------------------------------------------------------------------

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Campaign | None = None,
    ) -> HttpResponse:
        editable = obj is None or self.has_change_permission(request, obj)
        if editable:
            context["template_keys"] = list(
                Template.objects.order_by("key").values_list("key", flat=True).distinct()
            )
        if obj is not None and obj.pk:
            context.update(self.campaign_context(request, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def campaign_context(self, request: HttpRequest, campaign: Campaign) -> dict[str, Any]:
        buttons = []
        if self.may_act(request):
            buttons = [
                {
                    "action": action,
                    "label": lifecycle.ACTION_LABELS.get(action, action),
                    "url": reverse(f"admin:campaigns_campaign_{action}", args=[campaign.pk]),
                }
                for action in lifecycle.allowed(campaign)
                if action in BUTTONS
            ]
        changes = list(campaign.changes.select_related("by").order_by("-at", "-pk")[:CHANGES_SHOWN])
        run_rows = list(campaign.runs.order_by("-started_at", "-pk")[:RUNS_SHOWN])
        statuses = dict(Status.choices)
        return {
            "campaign_status": status_badge(campaign),
            "campaign_when": schedule_summary(campaign),
            "campaign_buttons": buttons,
            "test_send_url": (
                reverse("admin:campaigns_campaign_test_send", args=[campaign.pk])
                if self.may_act(request) and campaign.status in TEST_SEND_STATUSES
                else ""
            ),
            "test_send_to": request.user.email,
            "sendable_problems": (
                self.problems(campaign) if campaign.status == Status.DRAFT else []
            ),
            "content": self.content_table(request, campaign),
            "default_language_name": dict(settings.LANGUAGES).get(
                settings.LANGUAGE_CODE, settings.LANGUAGE_CODE
            ),
            "runs": [{"run": run, "results_url": self.results_url(run)} for run in run_rows],
            "runs_total": campaign.runs.count() if len(run_rows) == RUNS_SHOWN else len(run_rows),
            "changes": [
                {
                    "change": change,
                    "label": lifecycle.ACTION_LABELS.get(change.action, change.action),
                    "from": statuses.get(change.from_status, change.from_status),
                    "to": statuses.get(change.to_status, change.to_status),
                    "by": person(change.by),
                }
                for change in changes
            ],
            "can_see_changes": request.user.has_perm("campaigns.view_campaignchange"),
        }

    def problems(self, campaign: Campaign) -> list[str]:
        try:
            return lifecycle.sendable_problems(campaign)
        except segments.SegmentError as error:
            return list(error.errors)

    def content_table(self, request: HttpRequest, campaign: Campaign) -> dict[str, Any]:
        """Per channel kind of the campaign and per language: the template, if any."""
        kinds = list(campaign.channels or [])
        found = {
            (t.kind, t.locale): t
            for t in Template.objects.filter(key=campaign.template_key, kind__in=kinds).only(
                "pk", "kind", "locale", "active"
            )
        }
        can_open = request.user.has_perm("channels.view_template")
        can_add = request.user.has_perm("channels.add_template")
        rows = []
        for kind in kinds:
            cells = []
            for code, name in settings.LANGUAGES:
                template = found.get((kind, code))
                cell: dict[str, Any] = {"language": code, "language_name": name}
                if template is not None:
                    cell["state"] = "active" if template.active else "inactive"
                    if can_open:
                        cell["url"] = reverse("admin:channels_template_change", args=[template.pk])
                else:
                    cell["state"] = "missing"
                    if can_add:
                        query = urlencode(
                            {"key": campaign.template_key, "kind": kind, "locale": code}
                        )
                        cell["url"] = f"{reverse('admin:channels_template_add')}?{query}"
                cells.append(cell)
            rows.append({"channel": channel_badge(kind), "cells": cells})
        return {"languages": settings.LANGUAGES, "rows": rows}

    def results_url(self, run: CampaignRun) -> str:
        """Where a run's results are read (campaigns/admin/results.py)."""
        return reverse("admin:campaigns_campaign_results", args=[run.pk])

    # --- Buttons --------------------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        view = self.admin_site.admin_view
        moves = [
            path(
                f"<path:object_id>/{action}/",
                view(self.move_view),
                {"action": action},
                name=f"{info}_{action}",
            )
            for action in BUTTONS
        ]
        return [
            path(
                "runs/<int:run_id>/results/",
                view(partial(results.results_view, self)),
                name=f"{info}_results",
            ),
            *moves,
            path(
                "<path:object_id>/test-send/", view(self.test_send_view), name=f"{info}_test_send"
            ),
            *super().get_urls(),
        ]

    def _acting_on(self, request: HttpRequest, object_id: str) -> Campaign:
        if not self.may_act(request):
            raise PermissionDenied
        campaign = self.get_object(request, unquote(object_id))
        if campaign is None:
            raise Http404
        return campaign

    def _back(self, campaign: Campaign) -> HttpResponse:
        return redirect(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))

    def move_view(self, request: HttpRequest, object_id: str, action: str) -> HttpResponse:
        """One button: the matching function of scheduling or runs, as the person pressing it."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        campaign = self._acting_on(request, object_id)
        try:
            BUTTONS[action](campaign, by=request.user)
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
            return self._back(campaign)
        campaign.refresh_from_db()
        if action == "schedule":
            if campaign.schedule == Campaign.Schedule.NOW:
                done = _("“%(name)s” is scheduled and starts sending now.") % {
                    "name": campaign.name
                }
            else:
                done = _("“%(name)s” is scheduled: %(when)s.") % {
                    "name": campaign.name,
                    "when": schedule_summary(campaign),
                }
        else:
            done = DONE[action] % {"name": campaign.name}
        self.message_user(request, done, messages.SUCCESS)
        return self._back(campaign)

    def test_send_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The campaign's email, rendered in the viewer's language, sent to the viewer alone
        through the active email channel's backend (no outbox row: nobody's timeline shows it)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        campaign = self._acting_on(request, object_id)
        try:
            address = self.send_test(request, campaign)
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
            return self._back(campaign)
        self.log_change(request, campaign, f"Test send to {address}")
        self.message_user(
            request,
            _("A test of “%(name)s” was sent to %(email)s.")
            % {"name": campaign.name, "email": address},
            messages.SUCCESS,
        )
        return self._back(campaign)

    def send_test(self, request: HttpRequest, campaign: Campaign) -> str:
        """Send the test; the address it went to, or DomainError saying why not."""
        if campaign.status not in TEST_SEND_STATUSES:
            raise DomainError("not_allowed", _("Only a draft or scheduled campaign can be tested."))
        user = request.user
        address = (getattr(user, "email", "") or "").strip()
        if not address:
            raise DomainError(
                "no_email",
                _("Your account has no email address; add one to receive a test."),
            )
        channel = (
            Channel.objects.filter(kind=Channel.Kind.EMAIL, active=True)
            .order_by("priority", "pk")
            .first()
        )
        if channel is None:
            raise DomainError("no_channel", _("There is no active email channel to send with."))
        language = getattr(request, "LANGUAGE_CODE", "") or translation.get_language()
        template = rendering.pick_template(campaign.template_key, Channel.Kind.EMAIL, language)
        if template is None:
            raise DomainError(
                "no_template",
                _("There is no active email template “%(key)s” to test.")
                % {"key": campaign.template_key},
            )
        customer = self.sample_customer(request, campaign)
        customer.locale = template.locale  # in memory only: render in the template's language
        context = rendering.base_context(customer, {})
        draft = Message(customer=customer, idempotency_key=f"test:{campaign.pk}")
        context["unsubscribe_url"] = links.unsubscribe_url(draft)
        try:
            parts = rendering.render(
                customer=customer,
                subject=template.subject,
                text=template.text,
                html=template.html,
                context=context,
            )
        except Exception as error:  # a broken template is what a test is for
            logger.info("campaigns.test_render_failed campaign=%s", campaign.pk, exc_info=True)
            raise DomainError(
                "render_failed",
                _("The template does not render: %(error)s")
                % {"error": f"{type(error).__name__}: {error}"},
            ) from error
        outgoing = Outgoing(
            message_id=0,
            kind=Channel.Kind.EMAIL,
            to=address,
            subject=(TEST_PREFIX + parts.subject)[:300],
            text=parts.text,
            html=parts.html,
            purpose=Message.Purpose.TRANSACTIONAL,
            customer_public_id=str(customer.public_id),
            locale=template.locale,
            metadata={"intent": "campaign_test", "campaign": campaign.pk},
        )
        try:
            channel.get_backend().send(outgoing)
        except DeliveryError as error:
            raise DomainError(
                "send_failed",
                _("The test could not be sent: %(error)s") % {"error": str(error)},
            ) from error
        return address

    def sample_customer(self, request: HttpRequest, campaign: Campaign) -> Customer:
        """A member of the segment to fill the template with, if the viewer may see customers;
        else a stand-in with the viewer's own name (never saved)."""
        if request.user.has_perm("customers.view_customer"):
            try:
                sample = segments.members(campaign.segment).order_by("pk").first()
            except segments.SegmentError:
                sample = None
            if sample is not None:
                return sample
        user: Any = request.user
        return Customer(first_name=user.first_name, last_name=user.last_name)

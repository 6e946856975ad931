"""A campaign run's results page: the figures of ``campaigns.results`` as tables and bar charts
(HTML bars sized by CSS, so they read right to left in Persian and Arabic as well)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from campaigns import results
from campaigns.models import CampaignRun
from customers.models import ChannelKind

FUNNEL = [
    ("messages", _("Messages")),
    ("sent", _("Sent")),
    ("delivered", _("Delivered")),
    ("opened", _("Opened")),
    ("clicked", _("Clicked")),
    ("converted", _("Converted")),
]


def _share(part: float, whole: float) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


def funnel(figures: results.ChannelFigures) -> list[dict[str, Any]]:
    """One bar per stage, as a share of the channel's messages."""
    return [
        {
            "label": label,
            "value": getattr(figures, name),
            "width": _share(getattr(figures, name), figures.messages),
        }
        for name, label in FUNNEL
    ]


def _channel_label(kind: str) -> str:
    return str(ChannelKind(kind).label) if kind in ChannelKind.values else kind


def results_view(model_admin: admin.ModelAdmin, request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(CampaignRun.objects.select_related("campaign__segment"), pk=run_id)
    if not model_admin.has_view_permission(request, run.campaign):
        raise PermissionDenied
    figures = results.for_run(run)
    rates = [
        (_("Received the campaign"), figures.conversion_rate, figures.treated, figures.converted),
        (
            _("Hold-out (got nothing)"),
            figures.holdout_rate,
            figures.held_out,
            figures.holdout_converted,
        ),
    ]
    top = max((rate or 0 for _, rate, _, _ in rates), default=0) or 1
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": _("Results of %(campaign)s, run %(run)s")
        % {"campaign": run.campaign, "run": run.pk},
        "run": run,
        "campaign": run.campaign,
        "figures": figures,
        "channels": [
            {"figures": c, "funnel": funnel(c), "label": _channel_label(c.kind)}
            for c in figures.channels
        ],
        "rates": [
            {"label": label, "rate": rate,
             "percent": None if rate is None else round(rate * 100, 1),
             "width": _share(rate or 0, top), "members": members, "converted": converted}
            for label, rate, members, converted in rates
        ],
        "window_end": run.started_at + run.campaign.goal_window,
    }  # fmt: skip
    return TemplateResponse(request, "admin/campaigns/campaign/results.html", context)

"""The insights dashboard in the admin: the period and channel filter, every KPI of
``insights.selectors`` as a figure with a server-rendered SVG chart, and each figure's CSV export.

A manager opens /admin/insights/dashboard/, sees the last 30 days on every channel, narrows the
period or picks a channel; a wrong date shows what is wrong on the form, never an error page.
``?export=<figure>`` with the same filters downloads that figure as CSV.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from customers.models import ChannelKind, Customer
from insights import selectors
from security import audit

DEFAULT_DAYS = 30
MAX_DAYS = 731  # two years: longer periods would scan most of the timeline


class DashboardFilter(forms.Form):
    """The period (whole days in the current time zone, both ends included) and the channel."""

    start = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    channel = forms.ChoiceField(
        label=_("Channel"),
        required=False,
        choices=[("", _("All channels")), *ChannelKind.choices],
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        today = timezone.localdate()
        end = data.get("end") or today
        start = data.get("start") or end - dt.timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            raise forms.ValidationError(
                _("The period must start on or before its last day."), code="reversed"
            )
        if (end - start).days + 1 > MAX_DAYS:
            raise forms.ValidationError(
                _("A period can be at most %(days)s days long.") % {"days": MAX_DAYS},
                code="too_long",
            )
        data["start"], data["end"] = start, end
        return data

    def period(self) -> tuple[dt.datetime, dt.datetime, str | None]:
        """(start, end exclusive, channel) of a valid form, as aware datetimes."""
        zone = timezone.get_current_timezone()
        start = dt.datetime.combine(self.cleaned_data["start"], dt.time.min, tzinfo=zone)
        end = dt.datetime.combine(
            self.cleaned_data["end"] + dt.timedelta(days=1), dt.time.min, tzinfo=zone
        )
        return start, end, self.cleaned_data["channel"] or None


@dataclass(frozen=True)
class Figure:
    key: str
    title: Any  # lazy string
    compute: Callable[[dt.datetime, dt.datetime, str | None], Any]


FIGURES = [
    Figure("conversion", _("Conversion rate (carts → orders)"), selectors.conversion),
    Figure("recovery", _("Abandoned-cart recovery"), selectors.recovery),
    Figure("response", _("First response time"), selectors.response_times),
    Figure("repeat", _("Repeat-purchase rate"), selectors.repeat_purchase),
    Figure("csat", _("Satisfaction (CSAT)"), selectors.satisfaction),
    Figure(
        "ltv", _("Customer lifetime value"), lambda start, end, channel: selectors.lifetime_value()
    ),
    Figure("interactions", _("Channel mix of interactions"), selectors.interaction_mix),
    Figure("orders", _("Channel mix of orders"), selectors.order_mix),
    Figure("cross_channel", _("Cross-channel journeys"), selectors.cross_channel),
]
BY_KEY = {figure.key: figure for figure in FIGURES}


# --- Formatting (localised numbers) --------------------------------------------------------------


def number(value: int | float | Decimal | None, decimals: int | None = None) -> str:
    if value is None:
        return "–"
    return number_format(value, decimals, use_l10n=True, force_grouping=True)


def percent(value: float | None) -> str:
    return "–" if value is None else gettext("%(value)s%%") % {"value": number(value * 100, 1)}


def share(part: int, whole: int) -> str:
    """A share with its parts, e.g. "12.5% (5 / 40)"."""
    return f"{percent(selectors.ratio(part, whole))} ({number(part)} / {number(whole)})"


def duration(value: dt.timedelta | None) -> str:
    """A wait as a person says it: "45 s", "12 min", "3 h 20 min", "2 d 4 h"."""
    if value is None:
        return "–"
    seconds = max(0, round(value.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return gettext("%(d)s d %(h)s h") % {"d": number(days), "h": number(hours)}
    if hours:
        return gettext("%(h)s h %(m)s min") % {"h": number(hours), "m": number(minutes)}
    if minutes:
        return gettext("%(m)s min") % {"m": number(minutes)}
    return gettext("%(s)s s") % {"s": number(secs)}


def channel_label(kind: str) -> str:
    if not kind:
        return gettext("No line left")
    return str(ChannelKind(kind).label) if kind in ChannelKind.values else kind


def stage_label(stage: str) -> str:
    return str(Customer.Stage(stage).label) if stage in Customer.Stage.values else stage


# --- Charts --------------------------------------------------------------------------------------

BAR_HEIGHT, BAR_GAP, LABEL_WIDTH, PLOT_WIDTH, VALUE_WIDTH = 22, 8, 170, 320, 150


def bar_chart(label: str, bars: Sequence[tuple[str, float, str]]) -> dict[str, Any]:
    """A horizontal bar chart for the template's inline SVG: one bar per (label, value, shown
    value), scaled to the largest value. Geometry is computed here so the template only draws.
    """
    top = max((value for _, value, _ in bars), default=0) or 1
    rows = []
    for index, (name, value, shown) in enumerate(bars):
        width = PLOT_WIDTH * max(value, 0) / top
        y = index * (BAR_HEIGHT + BAR_GAP)
        rows.append(
            {
                "label": name,
                "shown": shown,
                "y": y,
                "text_y": f"{y + BAR_HEIGHT * 0.7:.1f}",
                "width": f"{width:.1f}",
                "value_x": f"{LABEL_WIDTH + width + 6:.1f}",
            }
        )
    return {
        "label": label,
        "rows": rows,
        "height": max(len(rows), 1) * (BAR_HEIGHT + BAR_GAP),
        "width": LABEL_WIDTH + PLOT_WIDTH + VALUE_WIDTH,
        "plot_x": LABEL_WIDTH,
        "plot_width": PLOT_WIDTH,
        "bar_height": BAR_HEIGHT,
        "label_x": LABEL_WIDTH - 8,
    }


# --- The figures as the page shows them ----------------------------------------------------------


def _conversion(f: selectors.Conversion) -> dict[str, Any]:
    return {
        "headline": percent(f.rate),
        "detail": gettext("%(converted)s of %(carts)s carts became an order (%(revenue)s)")
        % {
            "converted": number(f.converted),
            "carts": number(f.carts),
            "revenue": number(f.revenue, 2),
        },
        "chart": bar_chart(
            gettext("Conversion rate by the channel the cart was started on"),
            [
                (
                    channel_label(c.channel),
                    c.rate or 0,
                    share(c.converted, c.carts),
                )
                for c in f.channels
            ],
        ),
    }


def _recovery(f: selectors.Recovery) -> dict[str, Any]:
    return {
        "headline": percent(f.rate),
        "detail": gettext(
            "%(recovered)s of %(reminded)s reminded carts recovered; %(revenue)s recovered revenue"
        )
        % {
            "recovered": number(f.recovered),
            "reminded": number(f.reminded),
            "revenue": number(f.revenue, 2),
        },
        "chart": bar_chart(
            gettext("Reminded and recovered carts"),
            [
                (gettext("Reminded"), f.reminded, number(f.reminded)),
                (gettext("Recovered"), f.recovered, number(f.recovered)),
            ],
        ),
    }


def _response(f: selectors.ResponseTimes) -> dict[str, Any]:
    return {
        "headline": duration(f.median),
        "detail": gettext(
            "median; 90th percentile %(p90)s; %(answered)s of %(opened)s cases answered"
        )
        % {"p90": duration(f.p90), "answered": number(f.answered), "opened": number(f.opened)},
        "chart": bar_chart(
            gettext("Median and 90th percentile first response time"),
            [
                (
                    gettext("Median"),
                    (f.median or dt.timedelta()).total_seconds(),
                    duration(f.median),
                ),
                (
                    gettext("90th percentile"),
                    (f.p90 or dt.timedelta()).total_seconds(),
                    duration(f.p90),
                ),
            ],
        ),
    }


def _repeat(f: selectors.RepeatPurchase) -> dict[str, Any]:
    return {
        "headline": percent(f.rate),
        "detail": gettext("%(returning)s of %(buyers)s buyers had bought before")
        % {"returning": number(f.returning), "buyers": number(f.buyers)},
        "chart": bar_chart(
            gettext("Buyers and returning buyers"),
            [
                (gettext("Buyers"), f.buyers, number(f.buyers)),
                (gettext("Returning"), f.returning, number(f.returning)),
            ],
        ),
    }


def _csat(f: selectors.Satisfaction) -> dict[str, Any]:
    return {
        "headline": number(f.average, 2),
        "detail": ngettext(
            "average of %(count)s answer; %(satisfied)s scored 4 or 5",
            "average of %(count)s answers; %(satisfied)s scored 4 or 5",
            f.answers,
        )
        % {"count": number(f.answers), "satisfied": percent(f.satisfied_share)},
        "chart": bar_chart(
            gettext("Answers per score, 1 to 5"),
            [
                (gettext("Score %(score)s") % {"score": number(score)}, count, number(count))
                for score, count in f.distribution.items()
            ],
        ),
    }


def _ltv(f: selectors.LifetimeValue) -> dict[str, Any]:
    return {
        "headline": number(f.average, 2),
        "detail": gettext(
            "all time, per customer who has bought (%(buyers)s buyers); "
            "the period and channel filters do not apply"
        )
        % {"buyers": number(f.buyers)},
        "chart": bar_chart(
            gettext("Average lifetime value per lifecycle stage"),
            [
                (
                    stage_label(s.stage),
                    float(s.average or 0),
                    f"{number(s.average, 2)} ({number(s.customers)})",
                )
                for s in f.stages
            ],
        ),
    }


def _interactions(f: selectors.InteractionChannels) -> dict[str, Any]:
    return {
        "headline": number(f.total),
        "detail": gettext("touchpoints, inbound and outbound"),
        "chart": bar_chart(
            gettext("Interactions per channel"),
            [
                (
                    channel_label(c.channel),
                    c.total,
                    gettext("%(total)s (%(inbound)s in, %(outbound)s out)")
                    % {
                        "total": number(c.total),
                        "inbound": number(c.inbound),
                        "outbound": number(c.outbound),
                    },
                )
                for c in f.channels
            ],
        ),
    }


def _orders(f: selectors.OrderChannels) -> dict[str, Any]:
    return {
        "headline": number(f.orders),
        "detail": gettext("orders; revenue %(revenue)s") % {"revenue": number(f.revenue, 2)},
        "chart": bar_chart(
            gettext("Orders per channel"),
            [
                (channel_label(c.channel), c.orders, f"{number(c.orders)} ({number(c.revenue, 2)})")
                for c in f.channels
            ],
        ),
    }


def _cross_channel(f: selectors.CrossChannel) -> dict[str, Any]:
    return {
        "headline": percent(f.share),
        "detail": gettext(
            "%(cross)s of %(orders)s orders followed 2+ channels in the 7 days before"
        )
        % {"cross": number(f.cross_channel), "orders": number(f.orders)},
        "chart": bar_chart(
            gettext("Share of cross-channel orders by order channel"),
            [
                (
                    channel_label(kind),
                    selectors.ratio(cross, orders) or 0,
                    share(cross, orders),
                )
                for kind, (orders, cross) in f.by_channel.items()
            ],
        ),
    }


PRESENTERS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "conversion": _conversion,
    "recovery": _recovery,
    "response": _response,
    "repeat": _repeat,
    "csat": _csat,
    "ltv": _ltv,
    "interactions": _interactions,
    "orders": _orders,
    "cross_channel": _cross_channel,
}


# --- Views ---------------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    """Plain, unlocalised values a spreadsheet reads back: money with two decimals."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return str(value)


def _csv(figure: Figure, rows: list[list[Any]], form: DashboardFilter) -> HttpResponse:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerows([[_cell(cell) for cell in row] for row in rows])
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    channel = form.cleaned_data["channel"]
    name = f"insights-{figure.key}-{start:%Y-%m-%d}-{end:%Y-%m-%d}" + (
        f"-{channel}" if channel else ""
    )
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


def dashboard_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    """The dashboard page, or one figure as CSV with ``?export=<figure>``; 403 without the
    ``insights.view_dashboard`` permission."""
    if not request.user.has_perm("insights.view_dashboard"):
        raise PermissionDenied
    form = DashboardFilter(request.GET)
    export = request.GET.get("export")
    if export is not None:
        figure = BY_KEY.get(export)
        if figure is None or not form.is_valid():
            problems = (
                [gettext("Unknown figure: %(name)s") % {"name": export}]
                if figure is None
                else [
                    f"{name}: {' '.join(errors)}" if name != "__all__" else " ".join(errors)
                    for name, errors in form.errors.items()
                ]
            )
            return HttpResponse(
                "\n".join(problems), status=400, content_type="text/plain; charset=utf-8"
            )
        start, end, channel = form.period()
        audit.record(
            audit.Action.FIGURE_EXPORT,
            request=request,
            figure=figure.key,
            start=start.isoformat(),
            end=end.isoformat(),
            channel=channel or "",
        )
        return _csv(figure, figure.compute(start, end, channel).rows(), form)
    figures = []
    if form.is_valid():
        start, end, channel = form.period()
        for figure in FIGURES:
            shown = PRESENTERS[figure.key](figure.compute(start, end, channel))
            query = request.GET.copy()
            query["export"] = figure.key
            figures.append(
                {"key": figure.key, "title": figure.title, "export": query.urlencode(), **shown}
            )
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": _("Insights"),
        "form": form,
        "figures": figures,
    }
    return TemplateResponse(request, "admin/insights/dashboard.html", context)

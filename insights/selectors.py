"""The KPIs of the insights dashboard, as read-only selectors (docs/insights.md defines each).

Every selector takes a period — ``start`` inclusive, ``end`` exclusive, aware datetimes — and an
optional channel kind, and answers with a small dataclass in a fixed number of aggregate
queries whatever the size of the data: no selector loops over rows in Python. Each result's
``rows()`` gives the same figure as a header and rows for the CSV export.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import (
    Aggregate,
    Avg,
    CharField,
    Count,
    DecimalField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Concat
from django.utils.translation import gettext as _

from channels.models import Message
from commerce.models import Cart, CartLine, Order
from customers.models import Case, Customer, Interaction
from journeys.models import Enrollment, Journey

ZERO = Decimal("0")
MONEY = DecimalField(max_digits=16, decimal_places=2)
# A cart that lost all its lines has no channel of its own (an ordered cart keeps its lines).
UNKNOWN = ""
# How far back a customer's touchpoints count towards an order's cross-channel journey.
CROSS_CHANNEL_WINDOW = dt.timedelta(days=7)

Row = list[Any]


def ratio(part: int, whole: int) -> float | None:
    """part / whole, or None when there is nothing to divide by (shown as "–")."""
    return part / whole if whole else None


# --- Conversion: carts → orders ------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelConversion:
    channel: str  # the channel the cart was started on ("" if it has no line left)
    carts: int
    converted: int
    revenue: Decimal

    @property
    def rate(self) -> float | None:
        return ratio(self.converted, self.carts)


@dataclass(frozen=True)
class Conversion:
    """Carts started in the period, and how many of them became an order (so far)."""

    channels: list[ChannelConversion]

    @property
    def carts(self) -> int:
        return sum(c.carts for c in self.channels)

    @property
    def converted(self) -> int:
        return sum(c.converted for c in self.channels)

    @property
    def revenue(self) -> Decimal:
        return sum((c.revenue for c in self.channels), ZERO)

    @property
    def rate(self) -> float | None:
        return ratio(self.converted, self.carts)

    def rows(self) -> list[Row]:
        header = [_("channel"), _("carts"), _("converted"), _("conversion rate"), _("revenue")]
        return [header] + [
            [c.channel, c.carts, c.converted, _ratio(c.rate), c.revenue] for c in self.channels
        ]


def conversion(start: dt.datetime, end: dt.datetime, channel: str | None = None) -> Conversion:
    """Carts created in the period (merged carts excluded: they live on in the cart they joined)
    by the channel of their first line, and those converted into an order; one query."""
    first_line = (
        CartLine.objects.filter(cart=OuterRef("pk")).order_by("added_at", "pk").values("channel")
    )
    carts = (
        Cart.objects.filter(created_at__gte=start, created_at__lt=end)
        .exclude(status=Cart.Status.MERGED)
        .annotate(started_on=Coalesce(Subquery(first_line[:1]), Value(UNKNOWN)))
    )
    if channel:
        carts = carts.filter(started_on=channel)
    converted = Q(status=Cart.Status.CONVERTED)
    # A probe by primary key per converted cart, rather than a join the planner may hash.
    order_total = Subquery(Order.objects.filter(pk=OuterRef("order_id")).order_by().values("total"))
    rows = (
        carts.values_list("started_on")
        .annotate(
            n=Count("pk"),
            converted=Count("pk", filter=converted),
            revenue=Coalesce(Sum(order_total, filter=converted), ZERO, output_field=MONEY),
        )
        .order_by("started_on")
    )
    return Conversion([ChannelConversion(*row) for row in rows])


# --- Abandoned-cart recovery ---------------------------------------------------------------------


@dataclass(frozen=True)
class Recovery:
    """Carts the cart journeys reminded, and those the reminders brought back to an order."""

    reminded: int
    recovered: int
    revenue: Decimal

    @property
    def rate(self) -> float | None:
        return ratio(self.recovered, self.reminded)

    def rows(self) -> list[Row]:
        return [
            [_("reminded carts"), _("recovered carts"), _("recovery rate"), _("recovered revenue")],
            [self.reminded, self.recovered, _ratio(self.rate), self.revenue],
        ]


def recovery(start: dt.datetime, end: dt.datetime, channel: str | None = None) -> Recovery:
    """Enrollments in a cart journey (abandoned cart) entered in the period that sent at least
    one reminder; recovered = the journey attributed its goal (an order) to them — the engine's
    own rule (journeys.engine._convert: an order within the attribution window of the last
    reminder's channel). With a channel, only carts reminded at least once on it; one query."""
    enrollments = Enrollment.objects.filter(
        journey__context=Journey.Context.CART,
        entered_at__gte=start,
        entered_at__lt=end,
        messages_sent__gt=0,
    )
    if channel:
        enrollments = enrollments.filter(
            Exists(
                Message.objects.filter(
                    customer=OuterRef("customer_id"),
                    kind=channel,
                    sent_at__isnull=False,
                    # The engine's key for an enrollment's messages: journey:<enrollment>:<step>
                    idempotency_key__startswith=Concat(
                        Value("journey:"),
                        Cast(OuterRef("pk"), CharField()),
                        Value(":"),
                        output_field=CharField(),
                    ),
                )
            )
        )
    figures = enrollments.aggregate(
        reminded=Count("pk"),
        recovered=Count("pk", filter=Q(converted_at__isnull=False)),
        revenue=Coalesce(
            Sum("revenue", filter=Q(converted_at__isnull=False)), ZERO, output_field=MONEY
        ),
    )
    return Recovery(**figures)


# --- First response time -------------------------------------------------------------------------


class PercentileCont(Aggregate):
    """PostgreSQL's continuous percentile (linear interpolation between the two nearest)."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    allow_distinct = False

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        if not 0 <= fraction <= 1:
            raise ValueError("fraction must be between 0 and 1")
        super().__init__(expression, fraction=repr(float(fraction)), **extra)


@dataclass(frozen=True)
class ResponseTimes:
    """How long customers waited for the first answer on cases opened in the period."""

    opened: int
    answered: int
    median: dt.timedelta | None
    p90: dt.timedelta | None

    @property
    def waiting(self) -> int:
        return self.opened - self.answered

    def rows(self) -> list[Row]:
        return [
            [
                _("cases opened"),
                _("answered"),
                _("not answered yet"),
                _("median first response (seconds)"),
                _("90th percentile first response (seconds)"),
            ],
            [self.opened, self.answered, self.waiting, _seconds(self.median), _seconds(self.p90)],
        ]


def _response_time() -> ExpressionWrapper:
    return ExpressionWrapper(F("first_response_at") - F("opened_at"), output_field=DurationField())


def response_times(
    start: dt.datetime, end: dt.datetime, channel: str | None = None
) -> ResponseTimes:
    """Median and 90th percentile of (first response − opened) over cases opened in the period
    and answered (cases opened on the channel, if given). PostgreSQL: one query with
    PERCENTILE_CONT; elsewhere the same interpolation from the one or two ordered values around
    each percentile, fetched with LIMIT/OFFSET (three queries, no row loaded beyond those)."""
    cases = Case.objects.filter(opened_at__gte=start, opened_at__lt=end)
    if channel:
        cases = cases.filter(channel=channel)
    answered = Q(first_response_at__isnull=False)
    if connection.vendor == "postgresql":
        wait = _response_time()
        figures = cases.aggregate(
            opened=Count("pk"),
            answered=Count("pk", filter=answered),
            median=PercentileCont(wait, 0.5, filter=answered, output_field=DurationField()),
            p90=PercentileCont(wait, 0.9, filter=answered, output_field=DurationField()),
        )
        return ResponseTimes(**figures)
    counts = cases.aggregate(opened=Count("pk"), answered=Count("pk", filter=answered))
    waits = cases.filter(answered).annotate(wait=_response_time()).order_by("wait")
    waits = waits.values_list("wait", flat=True)
    return ResponseTimes(
        **counts,
        median=_percentile(waits, counts["answered"], 0.5),
        p90=_percentile(waits, counts["answered"], 0.9),
    )


def _percentile(ordered: QuerySet[Any], n: int, fraction: float) -> dt.timedelta | None:
    """PERCENTILE_CONT's definition: the value at position fraction × (n − 1) of the sorted
    values, interpolated between its two neighbours; reads at most two rows."""
    if not n:
        return None
    position = fraction * (n - 1)
    low = math.floor(position)
    values = list(ordered[low : low + 2])
    if position == low or len(values) == 1:
        return values[0]
    return values[0] + (values[1] - values[0]) * (position - low)


# --- Repeat purchase -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RepeatPurchase:
    """Customers who bought in the period, and how many of them had bought before."""

    buyers: int
    returning: int

    @property
    def rate(self) -> float | None:
        return ratio(self.returning, self.buyers)

    def rows(self) -> list[Row]:
        return [
            [_("buyers"), _("returning buyers"), _("repeat-purchase rate")],
            [self.buyers, self.returning, _ratio(self.rate)],
        ]


def repeat_purchase(
    start: dt.datetime, end: dt.datetime, channel: str | None = None
) -> RepeatPurchase:
    """Buyers: customers with an order placed in the period (on the channel, if given).
    Returning: those of them with another order, on any channel, placed before their last order
    of the period — a second order in the period counts as well as one from years ago. Two
    queries, both driven by the period's orders (index on placed_at).
    """
    orders = Order.objects.filter(placed_at__gte=start, placed_at__lt=end)
    if channel:
        orders = orders.filter(channel=channel)
    earlier = Order.objects.filter(
        customer=OuterRef("customer_id"), placed_at__lt=OuterRef("placed_at")
    )
    buyers = orders.values("customer_id").distinct()
    figures = {
        "buyers": buyers.count(),
        # A period order with an earlier one behind it (EXISTS in WHERE: a semi-join).
        "returning": buyers.filter(Exists(earlier)).count(),
    }
    return RepeatPurchase(**figures)


# --- Satisfaction --------------------------------------------------------------------------------

SCORES = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class Satisfaction:
    """CSAT answers given in the period: the average score and how many gave each score."""

    answers: int
    average: float | None
    distribution: dict[int, int]  # score 1–5 → answers

    @property
    def satisfied_share(self) -> float | None:
        """Share of answers scoring 4 or 5 (the usual "CSAT %")."""
        return ratio(self.distribution[4] + self.distribution[5], self.answers)

    def rows(self) -> list[Row]:
        return [[_("score"), _("answers")]] + [
            [score, self.distribution[score]] for score in SCORES
        ]


def satisfaction(start: dt.datetime, end: dt.datetime, channel: str | None = None) -> Satisfaction:
    """Cases whose CSAT answer came in the period (opened on the channel, if given); one query."""
    cases = Case.objects.filter(
        csat_answered_at__gte=start, csat_answered_at__lt=end, csat_score__isnull=False
    )
    if channel:
        cases = cases.filter(channel=channel)
    figures = cases.aggregate(
        answers=Count("pk"),
        average=Avg("csat_score"),
        **{f"s{score}": Count("pk", filter=Q(csat_score=score)) for score in SCORES},
    )
    average = figures["average"]
    return Satisfaction(
        answers=figures["answers"],
        average=None if average is None else float(average),
        distribution={score: figures[f"s{score}"] for score in SCORES},
    )


# --- Lifetime value ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StageValue:
    stage: str
    customers: int
    buyers: int
    revenue: Decimal

    @property
    def average(self) -> Decimal | None:
        """Average lifetime value of the stage's customers (buyers or not)."""
        return _money(self.revenue / self.customers) if self.customers else None


@dataclass(frozen=True)
class LifetimeValue:
    """What customers have spent in their lifetime so far, on average and per lifecycle stage."""

    stages: list[StageValue]

    @property
    def buyers(self) -> int:
        return sum(s.buyers for s in self.stages)

    @property
    def revenue(self) -> Decimal:
        return sum((s.revenue for s in self.stages), ZERO)

    @property
    def average(self) -> Decimal | None:
        """Historic customer lifetime value: revenue to date per customer who has bought."""
        return _money(self.revenue / self.buyers) if self.buyers else None

    def rows(self) -> list[Row]:
        header = [_("lifecycle stage"), _("customers"), _("buyers"), _("revenue"), _("average")]
        rows = [[s.stage, s.customers, s.buyers, s.revenue, s.average] for s in self.stages]
        return [header, *rows, [_("all buyers"), "", self.buyers, self.revenue, self.average]]


def lifetime_value() -> LifetimeValue:
    """Live customers' spending to date (the order aggregates kept on each customer) by
    lifecycle stage. All time on purpose: a lifetime value has no period, and a customer no
    single channel (docs/insights.md); one query."""
    rows = (
        Customer.objects.live()
        .values_list("stage")
        .annotate(
            n=Count("pk"),
            buyers=Count("pk", filter=Q(order_count__gt=0)),
            revenue=Coalesce(Sum("total_spent"), ZERO, output_field=MONEY),
        )
        .order_by()
    )
    found = {row[0]: row for row in rows}
    stages = [StageValue(*found.get(stage, (stage, 0, 0, ZERO))) for stage in Customer.Stage.values]
    return LifetimeValue(stages)


# --- Channel mix ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class InteractionMix:
    channel: str
    inbound: int
    outbound: int

    @property
    def total(self) -> int:
        return self.inbound + self.outbound


@dataclass(frozen=True)
class InteractionChannels:
    """Touchpoints on the timeline in the period, by channel and direction."""

    channels: list[InteractionMix]

    @property
    def total(self) -> int:
        return sum(c.total for c in self.channels)

    def rows(self) -> list[Row]:
        return [[_("channel"), _("inbound"), _("outbound"), _("total")]] + [
            [c.channel, c.inbound, c.outbound, c.total] for c in self.channels
        ]


def interaction_mix(
    start: dt.datetime, end: dt.datetime, channel: str | None = None
) -> InteractionChannels:
    """Inbound and outbound interactions that occurred in the period, by channel (internal
    notes and system rows are not touchpoints); one query."""
    interactions = Interaction.objects.filter(
        occurred_at__gte=start,
        occurred_at__lt=end,
        direction__in=[Interaction.Direction.INBOUND, Interaction.Direction.OUTBOUND],
    )
    if channel:
        interactions = interactions.filter(channel=channel)
    rows = (
        interactions.values_list("channel")
        .annotate(
            # Counting a column of the index customers_interaction_period (not the id) lets
            # PostgreSQL answer from the index alone.
            inbound=Count("direction", filter=Q(direction=Interaction.Direction.INBOUND)),
            outbound=Count("direction", filter=Q(direction=Interaction.Direction.OUTBOUND)),
        )
        .order_by("channel")
    )
    return InteractionChannels([InteractionMix(*row) for row in rows])


@dataclass(frozen=True)
class OrderMix:
    channel: str
    orders: int
    revenue: Decimal


@dataclass(frozen=True)
class OrderChannels:
    """Orders placed in the period, by the channel they were placed on."""

    channels: list[OrderMix]

    @property
    def orders(self) -> int:
        return sum(c.orders for c in self.channels)

    @property
    def revenue(self) -> Decimal:
        return sum((c.revenue for c in self.channels), ZERO)

    def rows(self) -> list[Row]:
        return [[_("channel"), _("orders"), _("revenue")]] + [
            [c.channel, c.orders, c.revenue] for c in self.channels
        ]


def order_mix(start: dt.datetime, end: dt.datetime, channel: str | None = None) -> OrderChannels:
    """Orders placed in the period and their revenue (order totals), by channel; one query."""
    orders = Order.objects.filter(placed_at__gte=start, placed_at__lt=end)
    if channel:
        orders = orders.filter(channel=channel)
    rows = (
        orders.values_list("channel")
        .annotate(n=Count("pk"), revenue=Coalesce(Sum("total"), ZERO, output_field=MONEY))
        .order_by("channel")
    )
    return OrderChannels([OrderMix(*row) for row in rows])


# --- Cross-channel journeys ----------------------------------------------------------------------


@dataclass(frozen=True)
class CrossChannel:
    """Orders in the period whose customer used more than one channel on the way to it."""

    orders: int
    cross_channel: int
    by_channel: dict[str, tuple[int, int]] = field(default_factory=dict)  # orders, cross

    @property
    def share(self) -> float | None:
        return ratio(self.cross_channel, self.orders)

    def rows(self) -> list[Row]:
        header = [_("order channel"), _("orders"), _("cross-channel orders"), _("share")]
        return [header] + [
            [kind, orders, cross, _ratio(ratio(cross, orders))]
            for kind, (orders, cross) in self.by_channel.items()
        ]


def cross_channel(start: dt.datetime, end: dt.datetime, channel: str | None = None) -> CrossChannel:
    """Orders placed in the period (on the channel, if given); cross-channel when the customer
    touched 2+ distinct channels in the 7 days up to the order: the order's own channel and at
    least one other with an inbound interaction (something the customer did, not a message we
    sent) in [placed − 7 days, placed]. Two queries: orders per channel, and those of them with
    such a touch (EXISTS in WHERE, so the planner may join instead of probing per order)."""
    orders = Order.objects.filter(placed_at__gte=start, placed_at__lt=end)
    if channel:
        orders = orders.filter(channel=channel)
    elsewhere = Interaction.objects.filter(
        customer=OuterRef("customer_id"),
        direction=Interaction.Direction.INBOUND,
        occurred_at__gte=OuterRef("placed_at") - CROSS_CHANNEL_WINDOW,
        occurred_at__lte=OuterRef("placed_at"),
        # Implied by the two above; lets the planner read only the period's touchpoints.
        occurred_at__range=(start - CROSS_CHANNEL_WINDOW, end),
    ).exclude(channel=OuterRef("channel"))
    per_channel = orders.values_list("channel").annotate(n=Count("pk")).order_by()
    crossed = dict(
        orders.filter(Exists(elsewhere)).values_list("channel").annotate(n=Count("pk")).order_by()
    )
    by_channel = {kind: (n, crossed.get(kind, 0)) for kind, n in sorted(per_channel)}
    return CrossChannel(
        orders=sum(n for n, _ in by_channel.values()),
        cross_channel=sum(cross for _, cross in by_channel.values()),
        by_channel=by_channel,
    )


# --- Helpers for the CSV rows --------------------------------------------------------------------


def _ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _seconds(value: dt.timedelta | None) -> str:
    return "" if value is None else f"{value.total_seconds():.0f}"


def _money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))

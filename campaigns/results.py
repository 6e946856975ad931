"""What a campaign run earned: delivery and engagement per channel, conversions and revenue in
the goal window, and the uplift against the hold-out. Read-only selectors, a fixed number of
aggregate queries per run whatever its size.

A recipient *converts* when they place an order between the run's start and the end of the
campaign's goal window; the hold-out is measured over the same window, so the difference
between the two rates is what the campaign caused (its uplift) rather than what would have
happened anyway.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import (
    BigIntegerField,
    Count,
    DecimalField,
    Exists,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce

from campaigns.models import CampaignRun, Recipient
from channels.models import Message
from commerce.models import Order
from customers.models import Consent

ZERO = Decimal("0")


@dataclass
class ChannelFigures:
    kind: str
    messages: int = 0
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    suppressed: int = 0
    waiting: int = 0
    opened: int = 0
    clicked: int = 0
    unsubscribed: int = 0
    converted: int = 0
    revenue: Decimal = ZERO
    held_by: dict[str, int] = field(default_factory=dict)  # suppressed, by rule


@dataclass
class RunResults:
    run: CampaignRun
    audience: int
    treated: int
    held_out: int
    channels: list[ChannelFigures]
    converted: int  # treated recipients who ordered in the window
    revenue: Decimal
    holdout_converted: int
    holdout_revenue: Decimal

    @property
    def conversion_rate(self) -> float | None:
        return self.converted / self.treated if self.treated else None

    @property
    def holdout_rate(self) -> float | None:
        return self.holdout_converted / self.held_out if self.held_out else None

    @property
    def uplift_points(self) -> float | None:
        """Conversion rate minus the hold-out's, in percentage points."""
        if self.conversion_rate is None or self.holdout_rate is None:
            return None
        return (self.conversion_rate - self.holdout_rate) * 100

    @property
    def incremental_conversions(self) -> float | None:
        """Orders the campaign caused: conversions beyond the hold-out's rate."""
        if self.holdout_rate is None:
            return None
        return self.converted - self.treated * self.holdout_rate


def for_run(run: CampaignRun) -> RunResults:
    campaign = run.campaign
    window_end = run.started_at + campaign.goal_window
    orders = Order.objects.filter(
        customer=OuterRef("customer_id"), placed_at__gte=run.started_at, placed_at__lt=window_end
    )
    spent = orders.order_by().values("customer").annotate(total=Sum("total")).values("total")[:1]
    money = DecimalField(max_digits=16, decimal_places=2)
    recipients = Recipient.objects.filter(run=run).annotate(
        ordered=Exists(orders),
        spent=Coalesce(Subquery(spent, output_field=money), Value(ZERO), output_field=money),
    )
    by_group: dict[tuple[str, str], tuple[int, int, Decimal]] = {}
    for status, kind, members, converted, revenue in recipients.values_list(
        "status", "message__kind"
    ).annotate(
        members=Count("pk"),
        converted=Count("pk", filter=Q(ordered=True)),
        revenue=Sum("spent", filter=Q(ordered=True)),
    ):
        by_group[status, kind or ""] = (members, converted, revenue or ZERO)

    channels: dict[str, ChannelFigures] = {}
    messages = Message.objects.filter(pk__in=Recipient.objects.filter(run=run).values("message_id"))
    # The unsubscribe page withdraws the address's consent with the message's id in its proof.
    unsubscribes = Consent.objects.annotate(
        message_id=Cast(KeyTextTransform("message", "proof"), BigIntegerField())
    ).filter(status=Consent.Status.WITHDRAWN, message_id=OuterRef("pk"))
    for kind, status, count, opened, clicked, unsubscribed in (
        messages.annotate(unsubscribed=Exists(unsubscribes))
        .values_list("kind", "status")
        .annotate(
            n=Count("pk"),
            opened=Count("pk", filter=Q(opened_at__isnull=False)),
            clicked=Count("pk", filter=Q(clicked_at__isnull=False)),
            gone=Count("pk", filter=Q(unsubscribed=True)),
        )
        .order_by()
    ):
        figures = channels.setdefault(kind, ChannelFigures(kind))
        figures.messages += count
        figures.opened += opened
        figures.clicked += clicked
        figures.unsubscribed += unsubscribed
        if status in (Message.Status.SENT, Message.Status.DELIVERED):
            figures.sent += count
        if status == Message.Status.DELIVERED:
            figures.delivered += count
        elif status in (Message.Status.FAILED, Message.Status.BOUNCED):
            figures.failed += count
        elif status == Message.Status.SUPPRESSED:
            figures.suppressed += count
        elif status in Message.PENDING:
            figures.waiting += count
    for kind, rule, count in (
        messages.filter(status=Message.Status.SUPPRESSED)
        .values_list("kind", "rule")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        channels.setdefault(kind, ChannelFigures(kind)).held_by[rule or "other"] = count
    for (status, kind), (_, converted, revenue) in by_group.items():
        if status == Recipient.Status.HANDED and kind:
            figures = channels.setdefault(kind, ChannelFigures(kind))
            figures.converted += converted
            figures.revenue += revenue

    def total(statuses: tuple[str, ...], index: int) -> int:
        return sum(v[index] for (s, _), v in by_group.items() if s in statuses)

    treated_statuses = (Recipient.Status.HANDED, Recipient.Status.PENDING)
    held = (Recipient.Status.HELD_OUT,)
    return RunResults(
        run=run,
        audience=total(treated_statuses + held, 0),
        treated=total(treated_statuses, 0),
        held_out=total(held, 0),
        channels=sorted(channels.values(), key=lambda figures: figures.kind),
        converted=total(treated_statuses, 1),
        revenue=sum((v[2] for (s, _), v in by_group.items() if s in treated_statuses), ZERO),
        holdout_converted=total(held, 1),
        holdout_revenue=sum((v[2] for (s, _), v in by_group.items() if s in held), ZERO),
    )

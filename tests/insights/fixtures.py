"""Small builders for the insights tests: rows made directly, so each test states every fact its
hand-computed figure depends on."""

import datetime as dt
from decimal import Decimal
from itertools import count

from commerce.models import Cart, CartLine, Order
from customers.models import Case, Interaction
from tests.customers.factories import CustomerFactory

UTC = dt.UTC
START = dt.datetime(2025, 3, 1, tzinfo=UTC)
END = dt.datetime(2025, 4, 1, tzinfo=UTC)
MID = dt.datetime(2025, 3, 15, 12, 0, tzinfo=UTC)
_numbers = count(1)


def order(customer, *, at, channel="web", total="10.00"):
    return Order.objects.create(
        customer=customer,
        external_id=f"O-{next(_numbers)}",
        channel=channel,
        total=Decimal(total),
        placed_at=at,
    )


def cart(*, created, lines=(), status=Cart.Status.ACTIVE, order_total=None, order_channel="web"):
    """A cart of a new customer; ``lines`` are (channel, minutes after creation)."""
    customer = CustomerFactory()
    made = Cart.objects.create(customer=customer, status=status, created_at=created)
    for n, (channel, minutes) in enumerate(lines):
        CartLine.objects.create(
            cart=made,
            sku=f"SKU-{n}",
            channel=channel,
            added_at=created + dt.timedelta(minutes=minutes),
        )
    if order_total is not None:
        made.order = order(
            customer, at=created + dt.timedelta(hours=1), channel=order_channel, total=order_total
        )
        made.converted_at = made.order.placed_at
        made.save()
    return made


def touch(customer, *, at, channel, direction=Interaction.Direction.INBOUND, type="track"):
    return Interaction.objects.create(
        customer=customer,
        channel=channel,
        direction=direction,
        type=type,
        name="Product Viewed",
        occurred_at=at,
    )


def case(*, opened, wait=None, channel="email", csat=None, answered=None):
    return Case.objects.create(
        customer=CustomerFactory(),
        subject="Where is my order?",
        channel=channel,
        opened_at=opened,
        first_response_at=None if wait is None else opened + wait,
        csat_score=csat,
        csat_answered_at=answered,
    )

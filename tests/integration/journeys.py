"""The built-in abandoned-cart journey as the real-process tests need it."""

import datetime as dt

from channels.models import Template
from journeys.models import Journey, JourneyStep

CART_LINES = "{% for line in cart.lines.all %}{{ line.sku }} {% endfor %}"


def abandoned_cart_journey(channel: str) -> Journey:
    """The built-in abandoned-cart journey, (re)made — an earlier transactional test may have
    flushed what the data migrations made — with one step: a reminder on ``channel`` two
    seconds after the cart, listing the cart's SKUs."""
    journey, _ = Journey.objects.update_or_create(
        key="abandoned_cart",
        defaults={"name": "Abandoned cart", "trigger_events": ["Product Added"],
                  "context": "cart", "exit_events": ["Order Completed"], "active": True},
    )  # fmt: skip
    JourneyStep.objects.update_or_create(
        journey=journey,
        position=0,
        defaults={"wait": dt.timedelta(seconds=2), "condition": "cart_has_items",
                  "channels": [channel], "template": "abandoned_cart", "intent": "cart"},
    )  # fmt: skip
    JourneyStep.objects.filter(journey=journey, position__gt=0).delete()
    subject = {"subject": "Your cart"} if channel == "email" else {}
    Template.objects.update_or_create(
        key="abandoned_cart",
        kind=channel,
        locale="en",
        defaults={**subject, "text": CART_LINES},
    )
    return journey

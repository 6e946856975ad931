"""Template filters that show dates in the customer's calendar (see customers.calendars)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.utils import timezone

from customers.calendars import format_local

register = template.Library()


@register.filter
def local_date(value: dt.date | dt.datetime | None, customer: Any = None) -> str:
    """``{{ value|local_date:customer }}`` in the customer's language and zone, or
    ``{{ value|local_date }}`` in the active language and time zone (a staff member's, in the
    admin).

    A customer without a locale falls back to the active language. Like Django's ``date``
    filter, it renders "" for None and for values that are not dates, so a page never breaks.
    """
    if not isinstance(value, dt.date):
        return ""
    locale = getattr(customer, "locale", "") or ""
    zone = getattr(customer, "time_zone", "") or None
    if customer is None:
        zone = timezone.get_current_timezone()
    try:
        return format_local(value, locale=locale, zone=zone)
    except (TypeError, ValueError, OverflowError):
        # Dates near datetime.min/max overflow when moved to another zone.
        return ""

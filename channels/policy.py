"""Whether a queued message may go out now: the rules the delivery task re-checks at send time.

Each rule answers with a ``Decision``: send, suppress (never, with the rule and reason the
customer page shows under "why not sent"), or defer (not before a time). Order: the address and
consent (for every purpose), then — for marketing only — arbitration between reminders and
campaigns, the cross-channel frequency caps, and the send window in the customer's time zone.
Transactional messages (an order receipt, an agent's reply) ignore caps and windows but never a
hard opt-out or a bounced address. Apps add rules of their own with ``register`` (journeys stop
a reminder whose customer has left the journey).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from channels import windows
from channels.models import FrequencyCap, Message
from customers.consents import may_contact

SEND, SUPPRESS, DEFER = "send", "suppress", "defer"

# Reminders of one shopping intent outrank the ones below them: checkout beats cart beats browse.
REMINDER_RANK = {"checkout": 3, "cart": 2, "browse": 1}
CAMPAIGN = "campaign"


@dataclass(frozen=True)
class Decision:
    action: str
    rule: str = ""
    reason: str = ""
    until: dt.datetime | None = None


GO = Decision(SEND)
Rule = Callable[[Message, dt.datetime], "Decision | None"]
_extra_rules: list[Rule] = []


def register(rule: Rule) -> None:
    """Add an app's own send-time rule (e.g. journey exit); it returns a Decision or None."""
    if rule not in _extra_rules:
        _extra_rules.append(rule)


def check(message: Message, now: dt.datetime) -> Decision:
    """The first rule that holds the message, or GO."""
    rules: list[Rule] = [_address, _consent, *_extra_rules]
    if message.purpose == Message.Purpose.MARKETING:
        rules += [_arbitration, _frequency_caps, _send_window]
    for rule in rules:
        decision = rule(message, now)
        if decision is not None:
            return decision
    return GO


def _address(message: Message, now: dt.datetime) -> Decision | None:
    if message.channel is None or not message.channel.active:
        return Decision(SUPPRESS, "channel", _("The channel is switched off."))
    address = message.address
    if address is None or address.customer_id != message.customer_id:
        return Decision(SUPPRESS, "address", _("The address is no longer the customer's."))
    return None


def _consent(message: Message, now: dt.datetime) -> Decision | None:
    assert message.address is not None
    reason = may_contact(message.customer, message.address, message.purpose)
    return Decision(SUPPRESS, "consent", reason) if reason else None


def _recent(message: Message, since: dt.datetime) -> QuerySet[Message]:
    """The customer's other marketing messages that went (or are going) out since then."""
    return Message.objects.filter(
        customer_id=message.customer_id,
        purpose=Message.Purpose.MARKETING,
        status__in=Message.OUT,
        sending_at__gte=since,
    ).exclude(pk=message.pk)


def _arbitration(message: Message, now: dt.datetime) -> Decision | None:
    window = dt.timedelta(hours=settings.DELIVERY_ARBITRATION_HOURS)
    if message.intent == CAMPAIGN:
        zone = windows.customer_zone(message.customer.time_zone)
        local_midnight = dt.datetime.combine(now.astimezone(zone).date(), dt.time(), zone)
        reminder = _recent(message, local_midnight).exclude(intent=CAMPAIGN).exclude(intent="")
        if reminder.exists():
            return Decision(SUPPRESS, "arbitration", _("A reminder went out today."))
        return None
    if not message.intent:
        return None
    rank = REMINDER_RANK.get(message.intent)
    stronger = Q(intent=message.intent)
    if rank is not None:
        stronger |= Q(intent__in=[i for i, r in REMINDER_RANK.items() if r >= rank])
    earlier = _recent(message, now - window).filter(stronger).order_by("-sending_at").first()
    if earlier is None:
        return None
    return Decision(
        SUPPRESS,
        "arbitration",
        _("A %(intent)s reminder already went out.") % {"intent": earlier.intent},
    )


def _frequency_caps(message: Message, now: dt.datetime) -> Decision | None:
    caps = active_caps()
    if not caps:
        return None
    # One read covers every cap: the send times within the longest period, newest first.
    longest = max(cap.period for cap in caps)
    recent = list(
        _recent(message, now - longest)
        .order_by("-sending_at")
        .values_list("sending_at", flat=True)[: max(cap.limit for cap in caps)]
    )
    for cap in caps:
        within = [at for at in recent if at >= now - cap.period]
        if len(within) < cap.limit:
            continue
        reason = _("Frequency cap reached: %(cap)s.") % {"cap": cap.name}
        if cap.action == FrequencyCap.Action.SKIP:
            return Decision(SUPPRESS, "frequency_cap", reason)
        # Deferred until the oldest counted message leaves the period.
        return Decision(DEFER, "frequency_cap", reason, within[cap.limit - 1] + cap.period)
    return None


CAPS_CACHE_SECONDS = 30
_caps_cache: tuple[float, list[FrequencyCap]] | None = None


def active_caps() -> list[FrequencyCap]:
    """The active caps, re-read at most every 30 seconds per process (a staff edit applies
    within half a minute; a busy worker does not read them for every message)."""
    global _caps_cache
    clock = time.monotonic()
    if _caps_cache is None or clock - _caps_cache[0] > CAPS_CACHE_SECONDS:
        _caps_cache = (clock, list(FrequencyCap.objects.filter(active=True)))
    return _caps_cache[1]


def forget_caps() -> None:
    """Drop the cached caps (on a staff edit, and in tests)."""
    global _caps_cache
    _caps_cache = None


def send_window(message: Message) -> tuple[dt.time, dt.time] | None:
    """The channel's window, else the DELIVERY_SEND_WINDOW setting ("09:00-21:00"; "" = none)."""
    channel = message.channel
    if channel is not None and channel.window_start is not None:
        return channel.window_start, channel.window_end
    text = settings.DELIVERY_SEND_WINDOW.strip()
    if not text:
        return None
    start, end = (dt.time.fromisoformat(part.strip()) for part in text.split("-", 1))
    return start, end


def _send_window(message: Message, now: dt.datetime) -> Decision | None:
    zone = windows.customer_zone(message.customer.time_zone)
    rest_days: frozenset[int] = frozenset()
    holidays: frozenset[dt.date] = frozenset()
    if message.channel is not None and message.channel.skip_rest_days:
        phone = message.to if message.kind in ("sms", "whatsapp") else None
        region = windows.region_for(message.customer.time_zone, phone)
        rest_days = windows.REST_DAYS.get(region, windows.DEFAULT_REST_DAYS)
        today = now.astimezone(zone).date()
        holidays = windows.holidays_between(region, today, today + dt.timedelta(days=60))
    allowed = windows.next_allowed(
        now, zone=zone, window=send_window(message), rest_days=rest_days, holidays=holidays
    )
    if allowed <= now:
        return None
    local = allowed.astimezone(zone)
    return Decision(
        DEFER,
        "send_window",
        _("Outside the send window; goes out at %(time)s local time.")
        % {"time": local.strftime("%Y-%m-%d %H:%M")},
        allowed,
    )

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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext as _

from channels import windows
from channels.models import FrequencyCap, Message
from customers.consents import ConsentBook

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
Rule = Callable[[Message, dt.datetime, "Ledger"], "Decision | None"]
_extra_rules: list[Rule] = []
T = TypeVar("T")


def register(rule: Rule) -> None:
    """Add an app's own send-time rule (e.g. journey exit); it returns a Decision or None.
    What it reads for a whole batch it reads once, through ``ledger.once``."""
    if rule not in _extra_rules:
        _extra_rules.append(rule)


class Ledger:
    """What the rules read, read once for a batch of messages: the customers' consents and
    their marketing messages that went out recently (for arbitration and the caps). A message
    the batch decides to send is added, so the next message of the same customer sees it."""

    def __init__(self, messages: Sequence[Message], now: dt.datetime) -> None:
        self.messages = messages
        self._once: dict[str, Any] = {}
        self.consents = ConsentBook({m.customer_id for m in messages})
        self.caps = active_caps()
        self._recent: dict[int, list[tuple[dt.datetime, str, int, str]]] = {}
        marketing = {m.customer_id for m in messages if m.purpose == Message.Purpose.MARKETING}
        if not marketing:
            return
        # Back far enough for the longest cap, the arbitration window and a local day.
        horizon = max(
            [cap.period for cap in self.caps]
            + [dt.timedelta(hours=settings.DELIVERY_ARBITRATION_HOURS), dt.timedelta(days=2)]
        )
        for customer_id, sending_at, intent, pk, key in _recent_marketing(marketing, now - horizon):
            self._recent.setdefault(customer_id, []).append((sending_at, intent, pk, key))

    def recent(
        self, message: Message, since: dt.datetime, *, other_flows: bool = False
    ) -> list[tuple[dt.datetime, str]]:
        """The customer's other marketing messages out since then, newest first;
        ``other_flows``: leaving out the earlier steps of this message's own journey
        enrollment (its second reminder is not a rival of its first)."""
        flow = _flow(message.idempotency_key) if other_flows else None
        rows = [
            (at, intent)
            for at, intent, pk, key in self._recent.get(message.customer_id, [])
            if at >= since and pk != message.pk and (flow is None or _flow(key) != flow)
        ]
        return sorted(rows, reverse=True)

    def once(self, name: str, read: Callable[[Sequence[Message]], T]) -> T:
        """``read(batch's messages)``, computed the first time a rule asks for ``name``."""
        if name not in self._once:
            self._once[name] = read(self.messages)
        return self._once[name]  # type: ignore[no-any-return]

    def going_out(self, message: Message, at: dt.datetime) -> None:
        if message.purpose == Message.Purpose.MARKETING:
            self._recent.setdefault(message.customer_id, []).append(
                (at, message.intent, message.pk, message.idempotency_key)
            )


def _recent_marketing(
    customer_ids: set[int], since: dt.datetime
) -> Iterable[tuple[int, dt.datetime, str, int, str]]:
    """(customer, sending_at, intent, pk, key) of these customers' marketing messages out
    since then.

    On PostgreSQL each customer is looked up on its own through the (customer, created_at)
    index: a fan-out fills the message table faster than autovacuum analyses it, and with no
    statistics on ``customer_id`` the planner reads ``customer_id IN (200 ids)`` as "the whole
    table" and scans all of it for every batch (37 ms instead of 4 ms at 120k messages)."""
    recent = (
        Message.objects.filter(
            purpose=Message.Purpose.MARKETING, status__in=Message.OUT, sending_at__gte=since
        )
        .order_by()
        .values_list("customer_id", "sending_at", "intent", "pk", "idempotency_key")
    )
    if connection.vendor != "postgresql":
        return recent.filter(customer_id__in=customer_ids)
    sql, params = recent.filter(customer_id=RawSQL("who.id", ())).query.sql_with_params()
    with connection.cursor() as cursor:
        # OFFSET 0 keeps the subquery from being merged into a join the planner could hash.
        cursor.execute(
            f"SELECT mine.* FROM unnest(%s::bigint[]) AS who(id) "
            f"CROSS JOIN LATERAL ({sql} OFFSET 0) AS mine",
            [sorted(customer_ids), *params],
        )
        return cursor.fetchall()


def _flow(idempotency_key: str) -> str | None:
    """The enrollment a journey message belongs to ("journey:<enrollment>:<step>"), if any."""
    parts = idempotency_key.split(":")
    return ":".join(parts[:2]) if len(parts) == 3 and parts[0] == "journey" else None


def check(message: Message, now: dt.datetime, ledger: Ledger | None = None) -> Decision:
    """The first rule that holds the message, or GO. ``ledger`` serves a batch; alone, a
    message reads its own (two queries)."""
    ledger = ledger or Ledger([message], now)
    for rule in (_address, _consent):
        decision = rule(message, now, ledger)
        if decision is not None:
            return decision
    for extra in _extra_rules:
        decision = extra(message, now, ledger)
        if decision is not None:
            return decision
    if message.purpose == Message.Purpose.MARKETING:
        for rule in (_arbitration, _frequency_caps, _send_window):
            decision = rule(message, now, ledger)
            if decision is not None:
                return decision
    return GO


def _address(message: Message, now: dt.datetime, ledger: Ledger) -> Decision | None:
    if message.channel is None or not message.channel.active:
        return Decision(SUPPRESS, "channel", _("The channel is switched off."))
    address = message.address
    if (
        address is None
        and message.purpose == Message.Purpose.TRANSACTIONAL
        and message.to
        and (message.context or {}).get("unheld_address")
    ):
        return None  # a code to an address nobody holds yet (services.Request.to)
    if address is None or address.customer_id != message.customer_id:
        return Decision(SUPPRESS, "address", _("The address is no longer the customer's."))
    return None


def _consent(message: Message, now: dt.datetime, ledger: Ledger) -> Decision | None:
    if message.address is None:
        return None  # an address nobody holds: no consent on it yet (see _address)
    reason = ledger.consents.why_not(message.address, message.purpose)
    return Decision(SUPPRESS, "consent", reason) if reason else None


def _arbitration(message: Message, now: dt.datetime, ledger: Ledger) -> Decision | None:
    if message.intent == CAMPAIGN:
        zone = windows.customer_zone(message.customer.time_zone)
        local_midnight = dt.datetime.combine(now.astimezone(zone).date(), dt.time(), zone)
        if any(
            intent not in (CAMPAIGN, "") for _, intent in ledger.recent(message, local_midnight)
        ):
            return Decision(SUPPRESS, "arbitration", _("A reminder went out today."))
        return None
    if not message.intent:
        return None
    rank = REMINDER_RANK.get(message.intent)
    stronger = {message.intent}
    if rank is not None:
        stronger |= {i for i, r in REMINDER_RANK.items() if r >= rank}
    window = dt.timedelta(hours=settings.DELIVERY_ARBITRATION_HOURS)
    earlier = [
        intent
        for _, intent in ledger.recent(message, now - window, other_flows=True)
        if intent in stronger
    ]
    if not earlier:
        return None
    return Decision(
        SUPPRESS,
        "arbitration",
        _("A %(intent)s reminder already went out.") % {"intent": earlier[0]},
    )


def _frequency_caps(message: Message, now: dt.datetime, ledger: Ledger) -> Decision | None:
    for cap in ledger.caps:
        within = [at for at, _ in ledger.recent(message, now - cap.period)]
        if len(within) < cap.limit:
            continue
        reason = _("Frequency cap reached: %(cap)s.") % {"cap": cap.name}
        if cap.action == FrequencyCap.Action.SKIP:
            return Decision(SUPPRESS, "frequency_cap", reason)
        # Deferred until the message that filled the cap leaves the period.
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
    """The message's own window (a campaign's, kept in its context as "10:00-18:00"), else the
    channel's, else the DELIVERY_SEND_WINDOW setting ("09:00-21:00"; "" = none)."""
    own = (message.context or {}).get("send_window")
    if own:
        return _parse_window(own)
    channel = message.channel
    if channel is not None and channel.window_start is not None:
        return channel.window_start, channel.window_end
    return _parse_window(settings.DELIVERY_SEND_WINDOW)


def _parse_window(text: str) -> tuple[dt.time, dt.time] | None:
    text = text.strip()
    if not text:
        return None
    start, end = (dt.time.fromisoformat(part.strip()) for part in text.split("-", 1))
    return start, end


def _send_window(message: Message, now: dt.datetime, ledger: Ledger) -> Decision | None:
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

"""The journey engine: events enroll and exit customers; the beat sweep advances due ones.

Enrolling and exiting happen in the event's own transaction (a reactor of the event log, after
commerce's), so an ``Order Completed`` exits the abandoned-cart enrollment before any sweep can
claim it. The sweep claims due enrollments with ``SKIP LOCKED`` in bounded batches; a batch is
one transaction — its enrollments advance and its messages are created (``send_many``, with the
idempotency key ``journey:<enrollment>:<step>``) together — so a sweep killed mid-batch leaves
the batch as it was for the next sweep, and two sweeps never take the same enrollment.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from channels import policy
from channels import services as outbox
from channels.models import Message
from commerce.models import Cart, CartLine, Order, OrderLine, Product
from commerce.restore import restore_url
from commerce.services import sku_of, to_decimal
from customers import reactors
from customers.bulk import commit_without_waiting, update_rows
from customers.links import link
from customers.models import Customer, Interaction
from journeys.models import Enrollment, Journey, JourneyStep

logger = logging.getLogger(__name__)

SWEEP_BATCH = 500
ENROLLED = "journeys.enrolled"
CSAT_SALT = "journeys.csat"


CACHE_SECONDS = 30
_cache: tuple[float, list[tuple[Journey, list[JourneyStep]]], frozenset[str]] | None = None


def _journeys() -> list[tuple[Journey, list[JourneyStep]]]:
    """The active journeys with their steps, re-read at most every 30 seconds per process (a
    staff edit applies within half a minute; every page view does not read them)."""
    global _cache
    clock = time.monotonic()
    if _cache is None or clock - _cache[0] > CACHE_SECONDS:
        journeys = list(Journey.objects.filter(active=True).prefetch_related("steps"))
        pairs = [(j, sorted(j.steps.all(), key=lambda s: s.position)) for j in journeys]
        names = {"Product Removed"}
        for journey, _ in pairs:
            names |= {*journey.trigger_events, *journey.exit_events, journey.goal_event}
        _cache = (clock, pairs, frozenset(names - {""}))
    return _cache[1]


def _watched() -> frozenset[str]:
    _journeys()
    assert _cache is not None
    return _cache[2]


def watches(name: str) -> bool:
    """Whether an event of this name can enroll, exit or convert anyone (the reactor's filter)."""
    return name in _watched()


def forget() -> None:
    """Drop the cached journeys (on a staff edit, and in tests)."""
    global _cache
    _cache = None


# --- Events: enroll, exit, convert --------------------------------------------------------------


def on_interaction(interaction: Interaction) -> None:
    """The journeys reactor: exits first, then the goal, then new enrollments."""
    name = interaction.name
    if name not in _watched():
        return
    journeys = _journeys()
    exiting = [j.pk for j, _ in journeys if name in j.exit_events]
    if exiting:
        exit_enrollments(
            Q(customer_id=interaction.customer_id, journey_id__in=exiting),
            reason=name,
            customer_id=interaction.customer_id,
        )
    if name == "Product Removed":
        _exit_if_cart_empty(
            interaction.customer_id, [j.pk for j, _ in journeys if j.context == "cart"]
        )
    for journey, _ in journeys:
        if journey.goal_event and journey.goal_event == name:
            _convert(journey, interaction)
    for journey, steps in journeys:
        if steps and name in journey.trigger_events and _matches(journey, interaction):
            context = _context_of(journey, interaction)
            if context is not None:
                enroll(journey, interaction.customer_id, *context, at=interaction.occurred_at)


def _matches(journey: Journey, interaction: Interaction) -> bool:
    props = interaction.properties
    return all(props.get(key) == value for key, value in (journey.trigger_filter or {}).items())


def _context_of(journey: Journey, interaction: Interaction) -> tuple[str, dict[str, Any]] | None:
    """The enrollment's context key and data, or None when the event has no such context."""
    props = interaction.properties
    if journey.context == Journey.Context.CART:
        cart_id = props.get("crm_cart_id")
        return (f"cart:{cart_id}", {"cart_id": cart_id}) if cart_id else None
    if journey.context == Journey.Context.PRODUCT:
        sku = sku_of(props)
        return (f"sku:{sku}", {"sku": sku}) if sku else None
    if journey.context == Journey.Context.ORDER:
        order_id = props.get("crm_order_id")
        return (f"order:{order_id}", {"order_id": order_id}) if order_id else None
    return "", {}


def prepare(interactions: Sequence[Interaction]) -> None:
    """For a chunk of tracked events: read once which of their customers are in which journey
    (active, or entered within a re-entry period), so enrolling costs no lookup per event."""
    if not any(i.name in _watched() for i in interactions):
        return
    journeys = [j for j, steps in _journeys() if steps and j.trigger_events]
    if not journeys:
        return
    periods = [j.reentry_period for j in journeys if j.reentry_period is not None]
    since = timezone.now() - max(periods) if periods else None
    recent = Q(status=Enrollment.Status.ACTIVE)
    if since is not None:
        recent |= Q(entered_at__gte=since)
    book = reactors.chunk_memo(ENROLLED)
    book["active"], book["entered"], book["stale"] = {}, {}, set()
    for journey_id, customer_id, key, status, step, entered in Enrollment.objects.filter(
        recent, customer_id__in={i.customer_id for i in interactions}, journey__in=journeys
    ).values_list("journey_id", "customer_id", "context_key", "status", "step", "entered_at"):
        if status == Enrollment.Status.ACTIVE:
            book["active"][journey_id, customer_id, key] = step
        last = book["entered"].get((journey_id, customer_id))
        book["entered"][journey_id, customer_id] = max(entered, last) if last else entered


def enroll(
    journey: Journey,
    customer_id: int,
    context_key: str,
    context: Mapping[str, Any],
    *,
    at: dt.datetime,
) -> None:
    """Start the journey for this customer and context, unless they are in it already (a
    restarting journey then restarts its first wait) or re-entry is too soon."""
    steps = dict(_journeys()).get(journey) or sorted(journey.steps.all(), key=lambda s: s.position)
    first_run = at + steps[0].wait
    book = reactors.chunk_memo(ENROLLED)
    active = Enrollment.objects.filter(
        journey=journey,
        customer_id=customer_id,
        context_key=context_key,
        status=Enrollment.Status.ACTIVE,
    )
    booked = "active" in book and customer_id not in book["stale"]
    if booked:  # a chunk read by prepare(): no lookups
        current = book["active"].get((journey.pk, customer_id, context_key))
        entered = book["entered"].get((journey.pk, customer_id))
    else:
        current = active.values_list("step", flat=True).first()
        entered = None
        if journey.reentry_period is not None:
            entered = (
                Enrollment.objects.filter(journey=journey, customer_id=customer_id)
                .order_by("-entered_at")
                .values_list("entered_at", flat=True)
                .first()
            )
    if current is not None:
        if journey.restart_on_trigger and current == 0:
            active.filter(step=0).update(next_run_at=first_run, updated_at=timezone.now())
        return
    now = timezone.now()
    if journey.reentry_period is not None and entered and entered >= now - journey.reentry_period:
        return
    # ON CONFLICT DO NOTHING: the same enrollment made by a concurrent event is not an error.
    Enrollment.objects.bulk_create(
        [
            Enrollment(
                journey=journey,
                customer_id=customer_id,
                context_key=context_key,
                context=dict(context),
                next_run_at=first_run,
                entered_at=now,
            )
        ],
        ignore_conflicts=True,
    )
    if booked:
        book["active"][journey.pk, customer_id, context_key] = 0
        book["entered"][journey.pk, customer_id] = now


def exit_enrollments(where: Q, *, reason: str, customer_id: int | None = None) -> int:
    book = reactors.chunk_memo(ENROLLED)
    if "stale" in book:
        # A prepared chunk's book no longer knows this customer's active enrollments.
        if customer_id is None:
            book.clear()
        else:
            book["stale"].add(customer_id)
    now = timezone.now()
    return Enrollment.objects.filter(where, status=Enrollment.Status.ACTIVE).update(
        status=Enrollment.Status.EXITED,
        reason=reason[:300],
        next_run_at=None,
        finished_at=now,
        updated_at=now,
    )


def _exit_if_cart_empty(customer_id: int, journey_ids: Sequence[int]) -> None:
    if not journey_ids:
        return
    cart = Cart.objects.filter(customer_id=customer_id, status=Cart.Status.ACTIVE).first()
    if cart is None or not cart.lines.exists():
        exit_enrollments(
            Q(customer_id=customer_id, journey_id__in=journey_ids),
            reason="Cart emptied",
            customer_id=customer_id,
        )


def _convert(journey: Journey, interaction: Interaction) -> None:
    """Attribute the goal (an order, say) to the customer's latest enrollment whose last sent
    message is within the attribution window of its channel (else the journey's)."""
    since = interaction.occurred_at - journey.goal_window
    enrollment = (
        Enrollment.objects.filter(
            journey=journey,
            customer_id=interaction.customer_id,
            converted_at__isnull=True,
            messages_sent__gt=0,
            updated_at__gte=since,
        )
        .order_by("-updated_at")
        .first()
    )
    if enrollment is None:
        return
    # The window follows the channel of the last message that went out: 5 days after an email,
    # 24 h after an SMS (the defaults of the best e-commerce tools).
    keys = [f"journey:{enrollment.pk}:{n}" for n in range(enrollment.step + 1)]
    last = (
        Message.objects.filter(idempotency_key__in=keys, sent_at__isnull=False)
        .order_by("-sent_at")
        .values_list("kind", "sent_at")
        .first()
    )
    if last is None:
        return
    kind, sent_at = last
    window = settings.JOURNEY_ATTRIBUTION_WINDOWS.get(kind, journey.goal_window)
    if not sent_at <= interaction.occurred_at <= sent_at + window:
        return
    props = interaction.properties
    Enrollment.objects.filter(pk=enrollment.pk).update(
        converted_at=interaction.occurred_at,
        revenue=to_decimal(props.get("total", props.get("revenue"))),
    )


# --- The sweep ----------------------------------------------------------------------------------


def advance_due(*, now: dt.datetime | None = None, limit: int = SWEEP_BATCH) -> int:
    """Claim up to ``limit`` due enrollments and move each one step on, in one transaction:
    re-check the step's condition, create its message, schedule the next step or finish.
    Returns how many enrollments were claimed."""
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            Enrollment.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=Enrollment.Status.ACTIVE, next_run_at__lte=now)
            .select_related("customer")  # the journey and its steps come from _journeys()
            .order_by("next_run_at")[:limit]
        )
        if not due:
            return 0
        commit_without_waiting()
        steps = {j.pk: s for j, s in _journeys()}
        facts = _Facts(due)
        requests: list[outbox.Request] = []
        staged: list[Customer] = []
        for enrollment in due:
            journey_steps = steps.get(enrollment.journey_id)
            if not journey_steps:  # switched off meanwhile
                _finish(enrollment, Enrollment.Status.EXITED, now, "Journey switched off")
                continue
            if enrollment.step >= len(journey_steps):
                _finish(enrollment, Enrollment.Status.COMPLETED, now)
                continue
            step = journey_steps[enrollment.step]
            why_not = facts.fails(step, enrollment)
            if why_not:
                _finish(enrollment, Enrollment.Status.EXITED, now, why_not)
                continue
            requests.append(
                outbox.Request(
                    customer=enrollment.customer,
                    purpose=step.purpose,
                    idempotency_key=f"journey:{enrollment.pk}:{step.position}",
                    channels=enrollment.context.get("channels") or step.channels,
                    template=step.template,
                    context=facts.template_context(enrollment, step),
                    intent=step.intent,
                )
            )
            enrollment.messages_sent += 1
            if step.set_stage:
                enrollment.customer.stage = step.set_stage
                staged.append(enrollment.customer)
            enrollment.step += 1
            enrollment.updated_at = now
            if enrollment.step < len(journey_steps):
                enrollment.next_run_at = now + journey_steps[enrollment.step].wait
            else:
                _finish(enrollment, Enrollment.Status.COMPLETED, now)
        update_rows(
            due,
            [
                "status",
                "reason",
                "step",
                "next_run_at",
                "updated_at",
                "finished_at",
                "messages_sent",
            ],
        )
        update_rows(staged, ["stage"])
        outbox.send_many(requests)
    return len(due)


def advance_for(*, seconds: float, limit: int = SWEEP_BATCH) -> int:
    """Run ``advance_due`` batch after batch until nothing is due or the time is up."""
    deadline = time.monotonic() + seconds
    total = 0
    while time.monotonic() < deadline:
        claimed = advance_due(limit=limit)
        total += claimed
        if claimed < limit:
            break
    return total


def still_wanted(
    message: Message, now: dt.datetime, ledger: policy.Ledger
) -> policy.Decision | None:
    """A send-time rule for the outbox: a journey message whose enrollment has exited since
    (the customer bought, emptied the cart) is not sent. One query for the delivery batch."""
    enrollment = _enrollment_of(message)
    if enrollment is None:
        return None
    exited = ledger.once("journeys.exited", _exited)
    if enrollment in exited:
        reason = f"Left the journey: {exited[enrollment]}"
        return policy.Decision(policy.SUPPRESS, "journey_exit", reason)
    return None


def _enrollment_of(message: Message) -> int | None:
    parts = message.idempotency_key.split(":")
    if len(parts) == 3 and parts[0] == "journey" and parts[1].isdigit():
        return int(parts[1])
    return None


def _exited(messages: Sequence[Message]) -> dict[int, str]:
    """Of the batch's journey messages, the enrollments that exited: their reasons by id."""
    ids = {e for e in map(_enrollment_of, messages) if e is not None}
    if not ids:
        return {}
    return dict(
        Enrollment.objects.filter(pk__in=ids, status=Enrollment.Status.EXITED).values_list(
            "pk", "reason"
        )
    )


def _finish(enrollment: Enrollment, status: str, now: dt.datetime, reason: str = "") -> None:
    enrollment.status, enrollment.reason = status, reason[:300]
    enrollment.next_run_at, enrollment.finished_at, enrollment.updated_at = None, now, now


class _Facts:
    """What the step conditions and templates need for a batch, read once."""

    def __init__(self, due: Sequence[Enrollment]) -> None:
        cart_ids = {e.context.get("cart_id") for e in due if e.context.get("cart_id")}
        self.carts = {
            c.pk: c for c in Cart.objects.filter(pk__in=cart_ids).prefetch_related("lines")
        }
        skus = {e.context.get("sku") for e in due if e.context.get("sku")}
        self.products = Product.objects.in_bulk(list(skus), field_name="sku") if skus else {}
        customer_ids = {e.customer_id for e in due}
        oldest = min(e.entered_at for e in due)
        self.ordered_at: dict[int, dt.datetime] = {}
        for customer_id, placed_at in Order.objects.filter(
            customer_id__in=customer_ids, placed_at__gte=oldest
        ).values_list("customer_id", "placed_at"):
            self.ordered_at[customer_id] = max(
                placed_at, self.ordered_at.get(customer_id, placed_at)
            )
        self.taken: set[tuple[int, str]] = set()
        if skus:
            for customer_id, sku in CartLine.objects.filter(
                cart__customer_id__in=customer_ids, sku__in=skus, added_at__gte=oldest
            ).values_list("cart__customer_id", "sku"):
                self.taken.add((customer_id, sku))
            for customer_id, sku in OrderLine.objects.filter(
                order__customer_id__in=customer_ids, sku__in=skus, order__placed_at__gte=oldest
            ).values_list("order__customer_id", "sku"):
                self.taken.add((customer_id, sku))

    def fails(self, step: JourneyStep, enrollment: Enrollment) -> str:
        """Why the step's condition does not hold now ("" when it does)."""
        condition = step.condition
        if condition == JourneyStep.Condition.CART_HAS_ITEMS:
            cart = self.carts.get(enrollment.context.get("cart_id"))
            if cart is None or cart.status != Cart.Status.ACTIVE:
                return "Cart bought or gone"
            if not cart.lines.all():
                return "Cart emptied"
            ordered = self.ordered_at.get(enrollment.customer_id)
            if ordered is not None and ordered >= (cart.changed_at or cart.created_at):
                return "Ordered since the cart's last change"
        elif condition == JourneyStep.Condition.PRODUCT_NOT_TAKEN:
            if (enrollment.customer_id, enrollment.context.get("sku")) in self.taken:
                return "Product added to a cart or ordered"
        elif condition == JourneyStep.Condition.IN_STOCK:
            product = self.products.get(enrollment.context.get("sku"))
            if product is None or (product.stock_quantity or 0) <= 0:
                return "Out of stock"
        return ""

    def template_context(self, enrollment: Enrollment, step: JourneyStep) -> dict[str, Any]:
        cart = self.carts.get(enrollment.context.get("cart_id"))
        return {
            "cart": cart,
            # Signed only when the template shows them (the template engine calls callables).
            "cart_url": (lambda: restore_url(cart, enrollment.customer.public_id)) if cart else "",
            "product": self.products.get(enrollment.context.get("sku")),
            "discount_code": step.discount_code,
            "csat_url": lambda: csat_url(enrollment),
        }


def csat_url(enrollment: Enrollment) -> str:
    """The signed satisfaction page of an enrollment (post-purchase asks it)."""
    token = signing.dumps({"e": enrollment.pk}, salt=CSAT_SALT, compress=True)
    return link("journeys:csat", token)

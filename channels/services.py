"""Write use-cases of outbound messaging: ``send`` puts a message in the outbox, ``deliver`` moves
it on. Every message and every change of its status is written on the customer's timeline.

Delivery is at-least-once on a crash and exactly-once otherwise: ``deliver`` locks the row and
goes on only from ``queued``, marks it ``sending`` and commits before calling the backend, and
writes the outcome after. A worker killed between the backend call and that write leaves the row
``sending``; ``requeue_stuck`` queues it again after DELIVERY_SENDING_TIMEOUT_SECONDS, so the
customer may get that one message twice, but never none (docs/decisions.md, "Outbox").
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from channels import links, policy, rendering, timeline
from channels.backends.base import Outgoing, PermanentError, TransientError
from channels.models import Channel, Message
from customers import reactors
from customers import services as customers
from customers.bulk import update_rows
from customers.consents import ADDRESS_KIND, ConsentBook
from customers.errors import DomainError
from customers.models import Customer, Identity

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Content:
    """A one-off message written by a person (an agent's reply): sent as written, no template
    language."""

    text: str
    subject: str = ""


@dataclass(frozen=True)
class Request:
    """One message to put in the outbox (see ``send``)."""

    customer: Customer
    purpose: str
    idempotency_key: str
    channels: Sequence[str] = ("email", "sms")
    template: str | None = None
    content: Content | None = None
    context: Mapping[str, Any] | None = None
    intent: str = ""
    agent: AbstractBaseUser | None = None
    # Only this address (a verification code): one of the customer's identities (its consent
    # still applies), or, for a transactional message, an address nobody holds yet.
    to: Identity | str | None = None

    def __post_init__(self) -> None:
        if (self.template is None) == (self.content is None):
            raise ValueError("Give a template key or content, not both.")
        if isinstance(self.to, str) and self.purpose != Message.Purpose.TRANSACTIONAL:
            raise ValueError("Only a transactional message goes to an address no one holds.")


def send(customer: Customer, **request: Any) -> Message:
    """Put one message in the outbox, on the first channel kind in ``channels`` on which the
    customer is reachable and consented, and enqueue its delivery once the transaction commits.

    ``template`` is a template key (rendered in the customer's language) or ``content`` the
    literal words; ``purpose`` marketing or transactional; ``intent`` what it is about, for
    arbitration. The same ``idempotency_key`` again returns the first message and does
    nothing. When no channel fits, the message is kept as ``suppressed`` with the reason for
    every channel tried, so "why not sent" can say it."""
    return send_many([Request(customer=customer, **request)])[0]


def send_many(requests: Sequence[Request]) -> list[Message]:
    """``send`` for many messages at once (a campaign's or a sweep's fan-out): a fixed number
    of queries for the lot — existing keys, customers, channels, addresses, consents — then
    one insert of the messages and one of their timeline rows. Returns the messages in order;
    for a key sent before, the first message."""
    keys = [r.idempotency_key[:200] for r in requests]
    existing = Message.objects.in_bulk(keys, field_name="idempotency_key")
    todo = [(r, k) for r, k in zip(requests, keys, strict=True) if k not in existing]
    if not todo:
        return [existing[k] for k in keys]
    people = _live_customers([r.customer for r, _ in todo])
    choose = _Chooser(people.values(), {kind for r, _ in todo for kind in r.channels})
    made: dict[str, Message] = {}
    for request, key in todo:
        if key not in made:
            made[key] = _compose(request, key, people[request.customer.pk], choose)
    fresh = list(made.values())
    try:
        with transaction.atomic():
            Message.objects.bulk_create(fresh)
            _note_many(fresh)
            enqueue_many([m for m in fresh if m.status == Message.Status.QUEUED])
    except IntegrityError:
        if len(requests) == 1:
            # The same key was sent by a concurrent caller a moment ago: that one stands.
            return [Message.objects.get(idempotency_key=keys[0])]
        return [send_many([r])[0] for r in requests]  # find which, one at a time
    return [existing.get(k) or made[k] for k in keys]


def _live_customers(requested: Sequence[Customer]) -> dict[int, Customer]:
    """Each requested customer's live profile (a tombstone's survivor), by requested pk."""
    merged = dict(
        Customer.objects.filter(
            pk__in={c.pk for c in requested}, merged_into__isnull=False
        ).values_list("pk", "merged_into_id")
    )
    return {c.pk: customers.live(c, refresh=True) if c.pk in merged else c for c in requested}


class _Chooser:
    """Which channel, address and template each customer gets: every channel, address and
    consent of the batch read once."""

    def __init__(self, people: Iterable[Customer], kinds: set[str]) -> None:
        ids = {c.pk for c in people}
        self.channels: dict[str, Channel] = {}
        for channel in Channel.objects.filter(kind__in=kinds, active=True).order_by(
            "-priority", "-pk"
        ):
            self.channels[channel.kind] = channel  # the last written is the first by priority
        self.addresses: dict[tuple[int, str], list[Identity]] = {}
        for address in Identity.objects.filter(
            customer_id__in=ids,
            kind__in={ADDRESS_KIND.get(kind, kind) for kind in kinds},
            bounced_at__isnull=True,
        ).order_by("-verified", "-created_at", "-pk"):
            self.addresses.setdefault((address.customer_id, address.kind), []).append(address)
        self.consents = ConsentBook(ids)
        self.templates: dict[tuple[str, str, str], Any] = {}

    def template(self, key: str, kind: str, locale: str) -> Any:
        if (key, kind, locale) not in self.templates:
            self.templates[key, kind, locale] = rendering.pick_template(key, kind, locale)
        return self.templates[key, kind, locale]

    def __call__(
        self, customer: Customer, request: Request
    ) -> tuple[tuple[Channel, Identity | str, Any] | None, list[str]]:
        notes: list[str] = []
        for kind in request.channels:
            channel = self.channels.get(kind)
            if channel is None:
                notes.append(_("%(kind)s: no active channel") % {"kind": kind})
                continue
            addresses: Sequence[Identity | str]
            if request.to is None:
                addresses = self.addresses.get((customer.pk, ADDRESS_KIND.get(kind, kind)), [])
            elif isinstance(request.to, str) or (
                request.to.customer_id == customer.pk and request.to.kind == ADDRESS_KIND.get(kind)
            ):
                addresses = [request.to]
            else:
                addresses = []
            reasons = []
            for address in addresses:
                # An address no one holds has no consents yet; a transactional one may go.
                reason = (
                    None
                    if isinstance(address, str)
                    else self.consents.why_not(address, request.purpose)
                )
                if reason is None:
                    break
                reasons.append(reason)
            else:
                notes.append(f"{kind}: {reasons[0] if reasons else _('no address')}")
                continue
            tpl = None
            if request.template is not None:
                tpl = self.template(request.template, kind, rendering.language_of(customer))
                if tpl is None:
                    notes.append(
                        _("%(kind)s: no template %(key)s") % {"kind": kind, "key": request.template}
                    )
                    continue
            return (channel, address, tpl), notes
        return None, notes


def _compose(request: Request, key: str, customer: Customer, choose: _Chooser) -> Message:
    """The unsaved message: on its channel and rendered, or suppressed with every reason."""
    chosen, notes = choose(customer, request)
    message = Message(
        customer=customer,
        purpose=request.purpose,
        intent=request.intent[:40],
        idempotency_key=key,
        agent=request.agent,
        context=_jsonable(request.context or {}),
    )
    if chosen is None:
        message.kind = request.channels[0] if request.channels else ""
        message.status, message.rule = Message.Status.SUPPRESSED, "no_channel"
        message.reason = "; ".join(notes)[:300] or _("No channel was given.")
        return message
    channel, address, tpl = chosen
    message.channel, message.kind = channel, channel.kind
    if isinstance(address, Identity):
        message.address, message.to = address, address.value
    else:
        # policy._address lets this one through: the address is not (yet) an identity.
        message.to, message.context["unheld_address"] = address, True
    if tpl is not None:
        message.template = tpl
        ctx = rendering.base_context(customer, request.context or {})
        ctx["unsubscribe_url"] = lambda: links.unsubscribe_url(message)
        parts = rendering.render(
            customer=customer, subject=tpl.subject, text=tpl.text, html=tpl.html, context=ctx
        )
    else:
        assert request.content is not None
        parts = rendering.Rendered(subject=request.content.subject[:300], text=request.content.text)
    message.subject, message.text, message.html = parts.subject, parts.text, parts.html
    message.links = parts.links
    return message


def _jsonable(context: Mapping[str, Any]) -> dict[str, Any]:
    """What of the caller's context is kept on the row: plain values, and model rows by id."""
    kept: dict[str, Any] = {}
    for key, value in context.items():
        if isinstance(value, str | int | float | bool) or value is None:
            kept[key] = value
        elif hasattr(value, "_meta") and hasattr(value, "pk"):
            kept[f"{key}_id"] = value.pk
    return kept


def enqueue(message: Message) -> None:
    """Hand the message to a worker once the current transaction commits."""
    enqueue_many([message])


def enqueue_many(messages: Sequence[Message] | Sequence[int]) -> None:
    """Hand messages to the workers once the current transaction commits, on the delivery
    queue of each one's channel kind (config/queues.py: a slow SMS gateway never holds up
    email): per kind, one task for a single message, else one task per DELIVERY_TASK_CHUNK
    (200) messages — a fan-out of 10,000 is 50 tasks, not 10,000, and each message is still
    decided and recorded on its own. Bare ids cost one query for their kinds."""
    from channels.tasks import deliver_message, deliver_messages
    from config import queues

    ids = [m for m in messages if not isinstance(m, Message)]
    kinds = dict(Message.objects.filter(pk__in=ids).values_list("pk", "kind")) if ids else {}
    by_kind: dict[str, list[int]] = {}
    for m in messages:
        pk, kind = (m.pk, m.kind) if isinstance(m, Message) else (m, kinds.get(m, ""))
        by_kind.setdefault(kind, []).append(pk)
    size = settings.DELIVERY_TASK_CHUNK
    for kind, pks in by_kind.items():
        queue = queues.delivery(kind)
        if len(pks) == 1:
            deliver_message.apply_async_on_commit((pks[0],), queue=queue)
            continue
        for start in range(0, len(pks), size):
            deliver_messages.apply_async_on_commit((pks[start : start + size],), queue=queue)


def _note(message: Message, status: str, **extra: Any) -> None:
    """Write the message's status change on the customer's timeline (our doing, so the
    customer's first/last seen stay)."""
    row = timeline.row(message, status, **extra)
    if row is None:
        return
    with transaction.atomic(savepoint=False):
        row.customer = customers.live(message.customer)
        row.save(force_insert=True)
        reactors.dispatch(row)


def _note_many(messages: Sequence[Message]) -> None:
    """The "queued" or "suppressed" timeline rows of new messages, in one insert."""
    timeline.write([(m, m.status, {}) for m in messages])


# --- Delivery ---------------------------------------------------------------------------------


def deliver(message_id: int, *, now: dt.datetime | None = None) -> str:
    """Deliver one queued message if it is due and the rules allow it. Returns what happened
    ("sent", "suppressed", "deferred", "retry", "failed", "bounced", or "skipped" when the row
    is not queued, not due, or being delivered by another worker right now)."""
    return deliver_many([message_id], now=now).get(message_id, "skipped")


def deliver_many(message_ids: Sequence[int], *, now: dt.datetime | None = None) -> dict[int, str]:
    """Deliver a batch of messages, each as ``deliver`` would, with a fixed number of queries
    for the lot: lock the queued, due ones (skipping rows another worker holds), decide each
    with one ``policy.Ledger``, mark the sendable ``sending`` and commit; call the backends
    outside any transaction; then write the outcomes and their timeline rows together.
    Returns what happened to each message it touched."""
    now = now or timezone.now()
    outcomes: dict[int, str] = {}
    with transaction.atomic():
        # The customers' rows are locked too: one customer's messages are decided by one worker
        # at a time, so two cannot both pass a frequency cap or arbitration with the last slot.
        # SKIP LOCKED: a row another worker holds is that worker's to deliver.
        batch = [
            m
            for m in Message.objects.select_for_update(of=("self", "customer"), skip_locked=True)
            .select_related("channel", "customer", "address")
            .filter(pk__in=list(message_ids), status=Message.Status.QUEUED)
            .order_by("customer_id", "pk")
            if m.not_before is None or m.not_before <= now
        ]
        if not batch:
            return outcomes
        ledger = policy.Ledger(batch, now)
        held, deferred, sending, notes = [], [], [], []
        for message in batch:
            decision = policy.check(message, now, ledger)
            if decision.action == policy.SUPPRESS:
                _set_final(message, Message.Status.SUPPRESSED, now, decision.reason, decision.rule)
                held.append(message)
                notes.append((message, message.status, {}))
                outcomes[message.pk] = "suppressed"
            elif decision.action == policy.DEFER:
                if message.not_before is None or message.rule != decision.rule:
                    until = decision.until.isoformat() if decision.until else None
                    notes.append(
                        (message, "deferred", {"name": "Message Deferred", "deferred_until": until})
                    )
                message.not_before, message.rule = decision.until, decision.rule
                message.reason, message.updated_at = decision.reason[:300], now
                deferred.append(message)
                outcomes[message.pk] = "deferred"
            elif _over_rate_limit(message.channel, now):
                message.not_before = now.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
                deferred.append(message)
                outcomes[message.pk] = "deferred"
            else:
                message.status, message.sending_at, message.updated_at = (
                    Message.Status.SENDING,
                    now,
                    now,
                )
                message.attempts += 1
                message.not_before, message.rule, message.reason = None, "", ""
                ledger.going_out(message, now)
                sending.append(message)
        update_rows(held, FINAL_FIELDS)
        update_rows(deferred, ["not_before", "rule", "reason", "updated_at"])
        update_rows(
            sending,
            ["status", "sending_at", "updated_at", "attempts", "not_before", "rule", "reason"],
        )
        timeline.write(notes)
    if sending:
        outcomes.update(_hand_over(sending))
    return outcomes


FINAL_FIELDS = [
    "status",
    "updated_at",
    "reason",
    "rule",
    "provider_id",
    "sent_at",
    "delivered_at",
    "failed_at",
]


def _hand_over(messages: Sequence[Message]) -> dict[int, str]:
    """Call the backends (outside any transaction: a slow provider holds no lock), then record
    what they said, the successes and permanent failures together."""
    backends: dict[int, Any] = {}
    done: list[Message] = []
    bounced: list[int] = []
    retry: list[tuple[Message, str]] = []
    outcomes: dict[int, str] = {}
    for message in messages:
        assert message.channel is not None
        if message.channel.pk not in backends:
            backends[message.channel.pk] = message.channel.get_backend()
        try:
            provider_id = backends[message.channel.pk].send(outgoing(message))
        except TransientError as error:
            retry.append((message, str(error)))
            continue
        except PermanentError as error:
            status = Message.Status.BOUNCED if error.bounced else Message.Status.FAILED
            if error.bounced and message.address_id:
                bounced.append(message.address_id)
            _set_final(message, status, timezone.now(), str(error))
        except Exception as error:
            # A bug or an unexpected provider answer: retried like a transient error (bounded),
            # with the traceback in the log.
            logger.exception("channels.backend_crashed message=%s", message.pk)
            retry.append((message, f"{type(error).__name__}: {error}"))
            continue
        else:
            message.provider_id = (provider_id or "")[:200]
            _set_final(message, Message.Status.SENT, timezone.now())
        done.append(message)
        outcomes[message.pk] = "sent" if message.status == Message.Status.SENT else message.status
    if done:
        with transaction.atomic():
            if bounced:
                Identity.objects.filter(pk__in=bounced).update(bounced_at=timezone.now())
            update_rows(done, FINAL_FIELDS)
            timeline.write([(m, m.status, {}) for m in done])
    for message, reason in retry:
        outcomes[message.pk] = _retry_or_fail(message, reason)
    return outcomes


def _set_final(
    message: Message, status: str, at: dt.datetime, reason: str = "", rule: str = ""
) -> None:
    """Put the message in a final status, unsaved (the caller writes FINAL_FIELDS)."""
    message.status, message.updated_at = status, at
    message.reason, message.rule = reason[:300], rule
    if status in TIMESTAMP_OF:
        setattr(message, TIMESTAMP_OF[status], at)


def _retry_or_fail(message: Message, reason: str) -> str:
    now = timezone.now()
    if message.attempts >= settings.DELIVERY_MAX_ATTEMPTS:
        with transaction.atomic():
            _finish(message, Message.Status.FAILED, now, reason=reason)
        return "failed"
    delay = settings.DELIVERY_RETRY_BASE_SECONDS * 2 ** (message.attempts - 1)
    with transaction.atomic():
        updated = Message.objects.filter(pk=message.pk, status=Message.Status.SENDING).update(
            status=Message.Status.QUEUED,
            not_before=now + dt.timedelta(seconds=delay),
            rule="retry",
            reason=reason[:300],
            updated_at=now,
        )
        if updated:
            from channels.tasks import deliver_message
            from config import queues

            queue = queues.delivery(message.kind)
            transaction.on_commit(
                lambda: deliver_message.apply_async((message.pk,), countdown=delay, queue=queue)
            )
    logger.info("channels.retry message=%s attempt=%s in=%ss", message.pk, message.attempts, delay)
    return "retry"


TIMESTAMP_OF = {
    Message.Status.SENT: "sent_at",
    Message.Status.DELIVERED: "delivered_at",
    Message.Status.FAILED: "failed_at",
    Message.Status.BOUNCED: "failed_at",
}


def _finish(
    message: Message, status: str, at: dt.datetime, *, reason: str = "", rule: str = ""
) -> None:
    """Move the message to a final status (inside the caller's transaction) and say so on the
    timeline."""
    _set_final(message, status, at, reason, rule)
    message.save(update_fields=FINAL_FIELDS)
    _note(message, status)


def _over_rate_limit(channel: Channel | None, now: dt.datetime) -> bool:
    """Whether this channel already sent its per-minute allowance (counted in the cache)."""
    if channel is None or not channel.rate_limit:
        return False
    key = f"channels:rate:{channel.pk}:{now:%Y%m%d%H%M}"
    cache.add(key, 0, timeout=120)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=120)
        count = 1
    return count > channel.rate_limit


def outgoing(message: Message) -> Outgoing:
    """The message as a backend receives it: links tracked, unsubscribe URLs for marketing."""
    marketing = message.purpose == Message.Purpose.MARKETING
    unsubscribe = links.unsubscribe_url(message) if marketing else ""
    return Outgoing(
        message_id=message.pk,
        kind=message.kind,
        to=message.to,
        subject=message.subject,
        text=message.text,
        html=links.tracked_html(message),
        purpose=message.purpose,
        unsubscribe_url=unsubscribe,
        unsubscribe_post_url=unsubscribe,
        customer_public_id=str(message.customer.public_id),
        locale=rendering.language_of(message.customer),
        metadata={"intent": message.intent, "idempotency_key": message.idempotency_key},
    )


# --- Sweeps -----------------------------------------------------------------------------------


def dispatch_due(*, now: dt.datetime | None = None, limit: int | None = None) -> int:
    """Hand due queued messages to the workers: deferred ones whose time came, retries, and any
    whose enqueue was lost. Claims rows with SKIP LOCKED in a bounded batch, so two beats never
    hand over the same message twice in one pass (and ``deliver`` is idempotent anyway)."""
    now = now or timezone.now()
    limit = limit or settings.DELIVERY_SWEEP_BATCH
    grace = now - dt.timedelta(seconds=60)  # a fresh message's own task is still on its way
    with transaction.atomic():
        due = list(
            Message.objects.select_for_update(skip_locked=True)
            .filter(status=Message.Status.QUEUED)
            .filter(Q(not_before__lte=now) | Q(not_before__isnull=True, updated_at__lte=grace))
            .order_by("not_before", "pk")
            .values_list("pk", flat=True)[:limit]
        )
        enqueue_many(due)
    return len(due)


def requeue_stuck(*, now: dt.datetime | None = None) -> int:
    """Queue again the messages left ``sending`` by a worker that died mid-send (at-least-once:
    the provider may have got the first attempt)."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(seconds=settings.DELIVERY_SENDING_TIMEOUT_SECONDS)
    with transaction.atomic():
        stuck = list(
            Message.objects.select_for_update(skip_locked=True).filter(
                status=Message.Status.SENDING, sending_at__lt=cutoff
            )[: settings.DELIVERY_SWEEP_BATCH]
        )
        for message in stuck:
            message.status, message.not_before, message.updated_at = (
                Message.Status.QUEUED,
                None,
                now,
            )
            message.rule = "requeued"
            message.reason = _("Sending was interrupted; queued again (it may arrive twice).")
            message.save(update_fields=["status", "not_before", "updated_at", "rule", "reason"])
            logger.warning("channels.requeued_stuck message=%s", message.pk)
            enqueue(message)
    return len(stuck)


def record_receipt(channel: Channel, provider_id: str, status: str, *, reason: str = "") -> bool:
    """A provider's delivery receipt: delivered, failed or bounced. Returns False when no
    message of this channel has that provider id. Receipts never move a message backwards."""
    final = {
        "delivered": Message.Status.DELIVERED,
        "failed": Message.Status.FAILED,
        "bounced": Message.Status.BOUNCED,
    }
    if status not in final:
        raise DomainError("invalid_status", _("Unknown delivery status."))
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(of=("self",))
            .select_related("customer")
            .filter(channel=channel, provider_id=provider_id)
            .first()
        )
        if message is None:
            return False
        if message.status == final[status] or message.status in (
            Message.Status.BOUNCED,
            Message.Status.SUPPRESSED,
        ):
            return True
        if status == "bounced" and message.address_id:
            Identity.objects.filter(pk=message.address_id).update(bounced_at=timezone.now())
        _finish(message, final[status], timezone.now(), reason=reason)
    return True


def note_engagement(message: Message, what: str, *, url: str = "") -> None:
    """The customer opened, clicked or replied: stamp the first time and say so on the
    timeline (each first time only, so a mail client's repeated pixel loads are one event)."""
    field = {"opened": "opened_at", "clicked": "clicked_at", "replied": "replied_at"}[what]
    now = timezone.now()
    with transaction.atomic():
        updated = Message.objects.filter(pk=message.pk, **{f"{field}__isnull": True}).update(
            **{field: now}
        )
        if updated:
            setattr(message, field, now)
            _note(message, what, name=f"Message {what.capitalize()}", url=url)

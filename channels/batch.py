"""Applying a tracking batch: every message on its own, most of them in bulk.

A batch is one transaction (one commit). Events and identify calls whose identifiers all name
one known customer, name nobody yet, or add new identifiers to a known device or account are
resolved with one query for the whole batch; their new customers and identities are made in
a few statements, identify traits written in one UPDATE, and their interactions inserted in
one; reactors then run on them in message order, chunk by chunk (``reactors.dispatch_chunk``).
Everything else — alias, identify from a trusted source, identifiers that need the trust rules,
and any later message of the same person — goes one by one through ``tracking.apply_parsed``
in its own savepoint. Either way the result is what applying the messages one by one gives
(tests/channels/test_batch_equivalence.py).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from channels import tracking
from channels.tracking import BatchResult, MessageError, Parsed, Rejection
from customers import reactors
from customers import services as customers
from customers.bulk import update_rows
from customers.models import Customer, Identity, Interaction, Source

logger = logging.getLogger(__name__)

DEADLOCK_RETRIES = 4


@dataclass
class _Fast:
    """An event taking the bulk path; ``customer_id`` is None until resolved."""

    index: int
    parsed: Parsed
    pairs: dict[str, str]
    customer_id: int | None = None
    row: Interaction | None = field(default=None)


def apply_batch(
    messages: Sequence[Any],
    *,
    source: Source,
    received_at: datetime | None = None,
    sent_at: datetime | None = None,
) -> BatchResult:
    """Apply a batch; valid messages are kept, each rejected one is reported with its reason.
    Replayed messageIds (earlier, or twice in this batch) count as duplicates and change
    nothing."""
    received_at = received_at or timezone.now()
    for attempt in range(1, DEADLOCK_RETRIES + 1):
        try:
            return _apply_batch_once(messages, source, received_at, sent_at)
        except OperationalError as error:
            if not _is_deadlock(error) or attempt == DEADLOCK_RETRIES:
                raise
            # Two batches took the same new rows in opposite orders; all was rolled back.
            logger.info("tracking.batch_deadlock_retry attempt=%s", attempt)
            time.sleep(random.uniform(0.01, 0.05) * attempt)
    raise AssertionError("unreachable")


def _is_deadlock(error: OperationalError) -> bool:
    cause = error.__cause__
    return type(cause).__name__ in ("DeadlockDetected", "SerializationFailure")


def _apply_batch_once(
    messages: Sequence[Any], source: Source, received_at: datetime, sent_at: datetime | None
) -> BatchResult:
    result = _Tally()
    with transaction.atomic(), reactors.batch_scope():
        plan = _parse_all(messages, source, received_at, sent_at, result)
        fast = _untangled(plan)
        _resolve_in_bulk(fast, source)
        pending: list[_Fast] = []
        for item in plan:
            if isinstance(item, _Fast) and item.customer_id is not None:
                pending.append(item)
                continue
            _flush(pending, result)
            pending = []
            _apply_one(item.index, item.parsed, result)
        _flush(pending, result)
    if result.rejected:
        logger.info("tracking.rejected source=%s count=%s", source.pk, len(result.rejected))
    return BatchResult(
        accepted=result.accepted,
        duplicates=result.duplicates,
        rejected=sorted(result.rejected, key=lambda r: r.index),
    )


@dataclass
class _Tally:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    applied_one_by_one: bool = False


@dataclass
class _Slow:
    index: int
    parsed: Parsed


def _message_id(message: Any) -> str:
    if isinstance(message, dict) and isinstance(message.get("messageId"), str | int):
        return str(message["messageId"]).strip()[:200]
    return ""


def _parse_all(
    messages: Sequence[Any],
    source: Source,
    received_at: datetime,
    sent_at: datetime | None,
    result: _Tally,
) -> list[_Fast | _Slow]:
    ids = [_message_id(message) for message in messages]
    seen = set(
        Interaction.objects.filter(source=source, message_id__in=[i for i in ids if i]).values_list(
            "message_id", flat=True
        )
    )
    plan: list[_Fast | _Slow] = []
    for index, message in enumerate(messages):
        try:
            parsed = tracking.parse(
                message, source=source, received_at=received_at, sent_at=sent_at
            )
        except MessageError as error:
            result.rejected.append(Rejection(index, ids[index], error.code, error.message))
            continue
        if parsed.message_id and parsed.message_id in seen:
            result.duplicates += 1
            continue
        if parsed.message_id:
            seen.add(parsed.message_id)
        if parsed.event is None or (parsed.event.traits is not None and source.trusted):
            # Alias, and identify from a trusted source (its addresses count as verified and
            # may merge profiles): the trust rules, one by one.
            plan.append(_Slow(index, parsed))
            continue
        pairs = customers.normalize_identifiers(parsed.event.identifiers)
        if not pairs:
            result.rejected.append(
                Rejection(index, parsed.message_id, "no_identifier", "No usable identifier.")
            )
            continue
        plan.append(_Fast(index, parsed, pairs))
    return plan


def _untangled(plan: list[_Fast | _Slow]) -> list[_Fast]:
    """The bulk candidates that share no identifier with an earlier one-by-one message: a
    message after an alias, a trusted identify or another one-by-one message of the same
    person must see what that message did, so it goes one by one too."""
    tainted: set[tuple[str, str]] = set()
    fast: list[_Fast] = []
    for item in plan:
        if isinstance(item, _Slow):
            tainted |= set(_pairs_of(item.parsed).items())
        elif tainted & set(item.pairs.items()):
            tainted |= set(item.pairs.items())
        else:
            fast.append(item)
    return fast


def _pairs_of(parsed: Parsed) -> dict[str, str]:
    if parsed.event is not None:
        return customers.normalize_identifiers(parsed.event.identifiers)
    message = parsed.message
    return customers.normalize_identifiers(
        {"user_id": message.get("userId"), "anonymous_id": message.get("previousId")}
    )


def _resolve_in_bulk(fast: list[_Fast], source: Source) -> None:
    """Set ``customer_id`` where the answer needs no trust rule: every identifier known and on
    one customer, or none known (a new customer with all of them). The rest stay None."""
    if not fast:
        return
    # An erased person's identifier goes one by one: resolve() drops it (suppression list).
    erased = customers.erased_pairs({pair for item in fast for pair in item.pairs.items()})
    by_kind: dict[str, set[str]] = {}
    for item in fast:
        for kind, value in item.pairs.items():
            by_kind.setdefault(kind, set()).add(value)
    query = Q()
    for kind, values in by_kind.items():
        query |= Q(kind=kind, value__in=sorted(values))
    known = {
        (kind, value): merged_into or customer_id
        for kind, value, customer_id, merged_into in Identity.objects.filter(query).values_list(
            "kind", "value", "customer_id", "customer__merged_into_id"
        )
    }
    new_groups: dict[frozenset[tuple[str, str]], list[_Fast]] = {}
    claimed: set[tuple[str, str]] = set()
    attach: list[tuple[_Fast, int, list[tuple[str, str]]]] = []
    tainted: set[tuple[str, str]] = set()  # pairs of earlier events that go one by one
    for item in fast:
        pairs = set(item.pairs.items())
        owners = {pair: known.get(pair) for pair in item.pairs.items()}
        holders = {owner for owner in owners.values() if owner is not None}
        unknown = [pair for pair, owner in owners.items() if owner is None]
        if pairs & tainted or pairs & erased:
            pass
        elif not holders:
            key = frozenset(pairs)
            if key in new_groups or not (key & claimed):
                new_groups.setdefault(key, []).append(item)
                claimed |= key
                continue
        elif len(holders) == 1 and not unknown:
            item.customer_id = holders.pop()
            continue
        elif (
            len(holders) == 1
            and any(kind in customers.ACCOUNT_KINDS for (kind, _), owner in owners.items() if owner)
            and not (set(unknown) & claimed)
        ):
            # The device or account is known, the rest is new: attach it, as resolve() would
            # (checked below against the one-user_id rule and the per-kind limits).
            attach.append((item, holders.pop(), unknown))
            claimed |= set(unknown)
            continue
        tainted |= pairs
    if new_groups:
        _create_customers(new_groups, source)
    if attach:
        _attach_identities(attach, source)


def _attach_identities(
    attach: list[tuple[_Fast, int, list[tuple[str, str]]]], source: Source
) -> None:
    held: dict[tuple[int, str], int] = {
        (customer_id, kind): count
        for customer_id, kind, count in Identity.objects.filter(
            customer_id__in={customer_id for _, customer_id, _ in attach}
        )
        .order_by()
        .values_list("customer_id", "kind")
        .annotate(count=Count("pk"))
    }
    rows: list[Identity] = []
    accepted: list[tuple[_Fast, int]] = []
    for item, customer_id, pairs in attach:
        adding: dict[str, int] = {}
        for kind, _ in pairs:
            adding[kind] = adding.get(kind, 0) + 1
        limits = settings.IDENTITY_LIMITS
        if any(
            held.get((customer_id, kind), 0) + n > limits.get(kind, settings.IDENTITY_DEFAULT_LIMIT)
            for kind, n in adding.items()
        ):
            continue  # a second user_id, or past a limit: resolve() decides, one by one
        for kind, n in adding.items():
            held[(customer_id, kind)] = held.get((customer_id, kind), 0) + n
        rows += [
            Identity(customer_id=customer_id, kind=kind, value=value, source=source)
            for kind, value in pairs
        ]
        accepted.append((item, customer_id))
    try:
        with transaction.atomic():
            Identity.objects.bulk_create(sorted(rows, key=lambda i: (i.kind, i.value)))
    except IntegrityError:
        return  # made meanwhile by another request: these go the one-by-one way
    for item, customer_id in accepted:
        item.customer_id = customer_id
    searchable = {row.customer_id for row in rows if row.kind != "anonymous_id"}
    if searchable:
        customers.refresh_search_text(searchable)


def _create_customers(
    groups: dict[frozenset[tuple[str, str]], list[_Fast]], source: Source
) -> None:
    keys = list(groups)
    people = [Customer(search_text=customers.search_text_for("", "", sorted(key))) for key in keys]
    try:
        with transaction.atomic():
            Customer.objects.bulk_create(people)
            # Sorted, so concurrent batches take the unique index entries in one order.
            identities = sorted(
                (
                    Identity(customer=person, kind=kind, value=value, source=source)
                    for person, key in zip(people, keys, strict=True)
                    for kind, value in key
                ),
                key=lambda identity: (identity.kind, identity.value),
            )
            Identity.objects.bulk_create(identities)
    except IntegrityError:
        return  # another request made one of them meanwhile: these go the one-by-one way
    for person, key in zip(people, keys, strict=True):
        for item in groups[key]:
            item.customer_id = person.pk


def _flush(pending: list[_Fast], result: _Tally) -> None:
    """Insert the pending events together, then run reactors on each in order."""
    if not pending:
        return
    if result.applied_one_by_one:
        # A message applied one by one earlier in this batch may have merged a customer these
        # events were resolved to; follow such tombstones before writing anything.
        survivors = dict(
            Customer.objects.filter(
                pk__in={item.customer_id for item in pending}, merged_into__isnull=False
            ).values_list("pk", "merged_into_id")
        )
        for item in pending:
            item.customer_id = survivors.get(item.customer_id, item.customer_id)
    for item in pending:
        event = item.parsed.event
        assert event is not None
        item.row = customers.build_interaction(
            type=event.type,
            channel=event.channel,
            name=event.name,
            summary=event.summary,
            properties=event.properties,
            **item.parsed.common,
        )
        item.row.customer_id = item.customer_id
    try:
        with transaction.atomic():
            _apply_traits([item for item in pending if item.parsed.event.traits])
            rows = [item.row for item in pending if item.row is not None]
            customers.insert_many(rows)
            wanted = [row for row in rows if reactors.wanted(row)]
            if wanted:
                people = Customer.objects.in_bulk({row.customer_id for row in wanted})
                for row in wanted:
                    row.customer = people[row.customer_id]
                # Reactors in message order, with no savepoint each: if one fails, the chunk
                # is undone and replayed one by one, which isolates (and rejects) that event.
                reactors.dispatch_chunk(wanted)
    except (OperationalError, InterfaceError):
        raise
    except Exception:
        logger.warning("tracking.bulk_chunk_replayed size=%s", len(pending), exc_info=True)
        for item in pending:
            _apply_one(item.index, item.parsed, result)
        return
    result.accepted += len(pending)


def _apply_traits(items: list[_Fast]) -> None:
    """Identify calls' traits, in message order, written with one UPDATE per changed field."""
    if not items:
        return
    people = Customer.objects.in_bulk({item.customer_id for item in items})
    changed: set[str] = set()
    touched: dict[int, Customer] = {}
    renamed: set[int] = set()
    for item in items:
        person = people[item.customer_id]
        fields = customers.merge_traits(person, item.parsed.event.traits)
        if fields:
            changed |= fields
            touched[person.pk] = person
            if fields & {"first_name", "last_name"}:
                renamed.add(person.pk)
    if not touched:
        return
    now = timezone.now()
    for person in touched.values():
        person.updated_at = now
    update_rows(list(touched.values()), [*sorted(changed), "updated_at"])
    if renamed:
        customers.refresh_search_text(renamed)


def _apply_one(index: int, parsed: Parsed, result: _Tally) -> None:
    result.applied_one_by_one = True
    try:
        tracking.apply_parsed(parsed)
    except MessageError as error:
        result.rejected.append(Rejection(index, parsed.message_id, error.code, error.message))
    except IntegrityError:
        # The same messageId was recorded by a concurrent request: a replay.
        if (
            parsed.message_id
            and Interaction.objects.filter(
                source=parsed.common["source"], message_id=parsed.message_id
            ).exists()
        ):
            result.duplicates += 1
        else:
            logger.exception("tracking.message_failed index=%s", index)
            result.rejected.append(
                Rejection(index, parsed.message_id, "processing_failed", "Could not be applied.")
            )
    except (OperationalError, InterfaceError):
        raise  # the connection itself is in trouble: the whole batch fails and is retried
    except Exception:
        # Its savepoint rolled back; the rest of the batch must not be lost with it.
        logger.exception("tracking.message_failed index=%s", index)
        result.rejected.append(
            Rejection(index, parsed.message_id, "processing_failed", "Could not be applied.")
        )
    else:
        result.accepted += 1

"""The Segment-compatible tracking API's use-case: validate and apply tracking messages.

One message is one call (identify, track, page, screen, group, alias): ``parse`` validates it
without touching the database, ``apply_parsed`` applies it in its own savepoint. Batches go
through ``channels.batch``. Replaying a ``messageId`` from the same source changes nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from customers import services as customers
from customers.api.parsers import json_problem
from customers.errors import DomainError
from customers.models import ChannelKind, Customer, Interaction, Source

logger = logging.getLogger(__name__)

MESSAGE_TYPES = ("identify", "track", "page", "screen", "group", "alias")
MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_BATCH_MESSAGES = 2500
# Beyond this the client clock is not corrected but replaced: a timestamp from the far future or
# the distant past is a broken device clock, not history.
MAX_FUTURE = timedelta(days=1)
# Nesting a message may have (Segment's deepest, context.traits.address, is 3 levels down).
MAX_DEPTH = 32


class MessageError(Exception):
    """A message we reject, with a stable code and a reason for the sender."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class Rejection:
    index: int
    message_id: str
    code: str
    message: str

    def as_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "messageId": self.message_id,
            "code": self.code,
            "message": self.message,
        }


@dataclass(frozen=True)
class BatchResult:
    accepted: int
    duplicates: int
    rejected: list[Rejection]


def message_size(message: Any) -> int:
    return len(json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode())


def _text(message: Mapping[str, Any], key: str, *, limit: int = 255) -> str:
    value = message.get(key)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise MessageError("invalid_field", f"'{key}' must be a string.")
    text = str(value).strip()
    if len(text) > limit:
        raise MessageError("invalid_field", f"'{key}' is longer than {limit} characters.")
    return text


def _object(message: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = message.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MessageError("invalid_field", f"'{key}' must be an object.")
    return value


def _time(message: Mapping[str, Any], key: str) -> datetime | None:
    value = message.get(key)
    if value in (None, ""):
        return None
    try:
        # parse_datetime raises ValueError for a well-formed impossible date ("2024-02-30") or
        # offset ("+99:00"); astimezone, OverflowError for one beyond years 1-9999 in UTC.
        parsed = parse_datetime(value) if isinstance(value, str) else None
        if parsed is not None and timezone.is_naive(parsed):
            parsed = timezone.make_aware(parsed, UTC)
        if parsed is not None:
            parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        parsed = None
    if parsed is None:
        raise MessageError("invalid_timestamp", f"'{key}' is not an ISO 8601 date-time.")
    return parsed


def occurred_at(message: Mapping[str, Any], *, received_at: datetime, sent_at: datetime | None):
    """When it happened, with the sender's clock skew removed as Segment does:
    ``timestamp + (receivedAt - sentAt)``; a missing timestamp means "when received"."""
    timestamp = _time(message, "timestamp") or _time(message, "originalTimestamp")
    sent_at = _time(message, "sentAt") or sent_at
    if timestamp is None:
        return received_at
    if sent_at is not None:
        try:
            timestamp = timestamp + (received_at - sent_at)
        except OverflowError:
            return received_at  # a skew beyond the calendar is a broken clock
    if timestamp > received_at + MAX_FUTURE:
        return received_at
    return timestamp


def _identifiers(message: Mapping[str, Any]) -> dict[str, str]:
    ids = {
        "user_id": _text(message, "userId"),
        "anonymous_id": _text(message, "anonymousId"),
    }
    ids = {kind: value for kind, value in ids.items() if value}
    if not ids:
        raise MessageError("missing_identifier", "Send a userId or an anonymousId.")
    return ids


def _customer(ids: Mapping[str, Any], source: Source) -> Customer:
    try:
        return customers.resolve(ids, source=source)
    except DomainError as error:
        raise MessageError(error.code, error.message) from error


@dataclass(frozen=True)
class EventFields:
    """What a track, page, screen or group call writes on the timeline."""

    identifiers: dict[str, str]
    type: str
    channel: str
    name: str
    properties: dict[str, Any]
    summary: str = ""
    traits: dict[str, Any] | None = None  # identify calls: what to set on the profile


@dataclass(frozen=True)
class Parsed:
    """A validated message, ready to apply; nothing read or written yet."""

    kind: str
    message_id: str
    message: dict[str, Any]
    common: dict[str, Any]
    event: EventFields | None


def parse(
    message: Any,
    *,
    source: Source,
    received_at: datetime,
    sent_at: datetime | None = None,
    type_: str | None = None,
) -> Parsed:
    """Validate one message (no database); raises MessageError with the reason."""
    if not isinstance(message, dict):
        raise MessageError("invalid_message", "A message must be a JSON object.")
    kind = type_ or message.get("type")
    if kind not in MESSAGE_TYPES:
        raise MessageError("unknown_type", f"Unknown message type {kind!r}.")
    if problem := json_problem(message, max_depth=MAX_DEPTH):
        raise MessageError("invalid_message", problem)
    if message_size(message) > MAX_MESSAGE_BYTES:
        raise MessageError("message_too_large", "A message may be at most 32 KB.")
    message_id = _text(message, "messageId", limit=200)
    common = {
        "source": source,
        "occurred_at": occurred_at(message, received_at=received_at, sent_at=sent_at),
        "context": _object(message, "context"),
        "message_id": message_id,
    }
    if kind == "alias":
        event = None
    elif kind == "identify":
        event = _identify_fields(message, common["context"], source)
    else:
        event = _event_fields(kind, message, source)
    return Parsed(kind=kind, message_id=message_id, message=message, common=common, event=event)


def apply_parsed(parsed: Parsed) -> None:
    """Apply one validated message in its own savepoint; raises MessageError."""
    with transaction.atomic():
        if parsed.kind == "identify":
            assert parsed.event is not None
            _identify(parsed.event, parsed.common)
        elif parsed.kind == "alias":
            _alias(parsed.message, parsed.common)
        else:
            assert parsed.event is not None
            _record_event(parsed.event, parsed.common)


def apply_message(
    message: Any,
    *,
    source: Source,
    received_at: datetime,
    sent_at: datetime | None = None,
    type_: str | None = None,
) -> bool:
    """Apply one message; True when new, False for a replayed messageId. Raises MessageError."""
    parsed = parse(message, source=source, received_at=received_at, sent_at=sent_at, type_=type_)
    if (
        parsed.message_id
        and Interaction.objects.filter(source=source, message_id=parsed.message_id).exists()
    ):
        return False
    apply_parsed(parsed)
    return True


def _identify_fields(
    message: Mapping[str, Any], context: Mapping[str, Any], source: Source
) -> EventFields:
    traits = _object(message, "traits") or _object(context, "traits")
    ids: dict[str, Any] = _identifiers(message)
    for kind in ("email", "phone"):
        if isinstance(traits.get(kind), str | int) and not isinstance(traits.get(kind), bool):
            ids[kind] = str(traits[kind])
    return EventFields(
        identifiers=ids,
        type=Interaction.Type.IDENTIFY,
        channel=source.channel,
        name="Identify",
        properties={"traits": traits},
        summary=_identify_summary(traits),
        traits=traits,
    )


def _identify(event: EventFields, common: dict[str, Any]) -> None:
    customer = _customer(event.identifiers, common["source"])
    if event.traits and {"email", "phone"} & event.identifiers.keys():
        if erased := customers.erased_kinds(event.identifiers):
            # An erased person's address is not stored again, not even on the timeline.
            traits = {k: v for k, v in event.traits.items() if k not in erased}
            event = replace(
                event,
                traits=traits,
                properties={"traits": traits},
                summary=_identify_summary(traits),
            )
            if isinstance(common["context"].get("traits"), dict):
                kept = {k: v for k, v in common["context"]["traits"].items() if k not in erased}
                common = {**common, "context": {**common["context"], "traits": kept}}
    if event.traits:
        # Identifiers became identities; a phone we cannot parse stays a trait.
        customers.apply_traits(customer, event.traits)
    _record(customer, event, common)


def _record(customer: Customer, event: EventFields, common: dict[str, Any]) -> None:
    customers.record_interaction(
        customer=customer,
        type=event.type,
        channel=event.channel,
        name=event.name,
        summary=event.summary,
        properties=event.properties,
        **common,
    )


def _identify_summary(traits: Mapping[str, Any]) -> str:
    shown = [str(traits[k]) for k in ("name", "firstName", "email", "phone") if traits.get(k)]
    return ("Identified: " + ", ".join(shown))[:500] if shown else "Identified"


def _alias(message: Mapping[str, Any], common: dict[str, Any]) -> None:
    previous_id = _text(message, "previousId")
    user_id = _text(message, "userId")
    if not previous_id or not user_id:
        raise MessageError("missing_identifier", "An alias needs previousId and userId.")
    try:
        customer = customers.alias(
            previous_id=previous_id, user_id=user_id, source=common["source"]
        )
    except DomainError as error:
        raise MessageError(error.code, error.message) from error
    customers.record_interaction(
        customer=customer,
        type=Interaction.Type.IDENTIFY,
        channel=common["source"].channel,
        name="Alias",
        summary=f"Linked {previous_id[:100]}",
        properties={"previousId": previous_id},
        **common,
    )


def _event_fields(kind: str, message: Mapping[str, Any], source: Source) -> EventFields:
    properties = _object(message, "properties")
    if kind == "track":
        name = _text(message, "event", limit=200)
        if not name:
            raise MessageError("missing_event", "A track call needs an 'event' name.")
        channel, type_ = source.channel, Interaction.Type.TRACK
    elif kind == "page":
        name = _text(message, "name", limit=200)
        channel, type_ = ChannelKind.WEB, Interaction.Type.PAGE
    elif kind == "screen":
        name = _text(message, "name", limit=200)
        channel, type_ = ChannelKind.APP, Interaction.Type.SCREEN
    else:  # group
        name = "Group"
        group_id = _text(message, "groupId")
        if not group_id:
            raise MessageError("missing_field", "A group call needs a groupId.")
        properties = {"groupId": group_id, "traits": _object(message, "traits")}
        channel, type_ = source.channel, Interaction.Type.TRACK
    return EventFields(
        identifiers=_identifiers(message),
        type=type_,
        channel=channel,
        name=name,
        properties=properties,
    )


def _record_event(event: EventFields, common: dict[str, Any]) -> None:
    _record(_customer(event.identifiers, common["source"]), event, common)

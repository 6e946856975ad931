"""The timeline rows of outbound messages: one per status change a person cares about.

A fan-out writes thousands of these a minute (a "queued" row when the message is made, a "sent"
row when it goes out), so on PostgreSQL the plain ones are made by the database from the message
rows themselves — one ``INSERT … SELECT`` per status, no model instance in between — whenever
no reactor listens to that event name. Rows with extras (a deferral's time, a clicked URL), rows
some reactor wants to see, and every row on SQLite are built in Python by ``row``; the two
builders write the same row (tests/channels/test_timeline.py holds them to it).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.utils import timezone

from channels.models import Message
from customers import reactors
from customers import services as customers
from customers.models import ChannelKind, Customer, Interaction

# Timeline event names, one per status a person cares about. "sending" lasts milliseconds and
# is a lock marker, not news, so it is not written.
EVENT_NAMES = {
    Message.Status.QUEUED: "Message Queued",
    Message.Status.SENT: "Message Sent",
    Message.Status.DELIVERED: "Message Delivered",
    Message.Status.FAILED: "Message Failed",
    Message.Status.BOUNCED: "Message Bounced",
    Message.Status.SUPPRESSED: "Message Suppressed",
}
# A held or failed message's row says why.
WITH_REASON = (Message.Status.SUPPRESSED, Message.Status.FAILED)

Entry = tuple[Message, str, dict[str, Any]]


def row(message: Message, status: str, **extra: Any) -> Interaction | None:
    """The unsaved timeline row of the message's change to ``status`` (None: not news)."""
    name = extra.pop("name", None) or EVENT_NAMES.get(status)
    if name is None:
        return None
    channel = message.kind if message.kind in ChannelKind.values else ChannelKind.OTHER
    summary = message.subject or message.text[:120] or message.kind
    if message.reason and (status in WITH_REASON or extra.get("deferred_until")):
        summary = f"{summary} — {message.reason}"
    return customers.build_interaction(
        type=Interaction.Type.MESSAGE,
        channel=channel,
        direction=Interaction.Direction.OUTBOUND,
        name=name,
        summary=summary[:500],
        properties={
            "message": message.pk,
            "status": status,
            "purpose": message.purpose,
            "intent": message.intent,
            "to": message.to,
            "rule": message.rule,
            **extra,
        },
        agent=message.agent,
    )


def write(entries: Sequence[Entry], *, in_sql: bool | None = None) -> None:
    """Timeline rows for status changes, in one insert per kind (our doing: first/last seen
    stay). The messages' rows must already hold the status being written. ``in_sql`` forces
    one builder (tests); by default plain rows go by SQL on PostgreSQL."""
    if in_sql is None:
        in_sql = connection.vendor == "postgresql"
    by_sql: dict[str, list[int]] = defaultdict(list)
    rows = []
    for message, status, extra in entries:
        name = EVENT_NAMES.get(status)
        if in_sql and not extra and name is not None and not reactors.wanted_name(name):
            by_sql[status].append(message.pk)
            continue
        built = row(message, status, **extra)
        if built is not None:
            built.customer = message.customer
            rows.append(built)
    now = timezone.now()
    for status, ids in by_sql.items():
        _insert_select(status, ids, now)
    customers.insert_many(rows, seen=False)
    for built in rows:
        reactors.dispatch(built)


def _insert_select(status: str, ids: Sequence[int], now: dt.datetime) -> None:
    """``row`` for each message, made by PostgreSQL from the messages' rows."""
    interaction, message, customer = (
        Interaction._meta.db_table,
        Message._meta.db_table,
        Customer._meta.db_table,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            # Only placeholders carry values; table names are the models' own.
            f"""
            INSERT INTO {interaction} (customer_id, source_id, channel, type, direction, name,
                summary, occurred_at, received_at, properties, context, agent_id, message_id)
            SELECT COALESCE(c.merged_into_id, m.customer_id), NULL,
                CASE WHEN m.kind = ANY(%(kinds)s) THEN m.kind ELSE %(other)s END,
                %(type)s, %(direction)s, %(name)s,
                LEFT(COALESCE(NULLIF(m.subject, ''), NULLIF(LEFT(m.text, 120), ''), m.kind)
                     || CASE WHEN m.reason <> '' AND %(with_reason)s
                             THEN ' — ' || m.reason ELSE '' END, 500),
                %(now)s, %(now)s,
                jsonb_build_object('message', m.id, 'status', %(status)s::text,
                    'purpose', m.purpose, 'intent', m.intent, 'to', m."to", 'rule', m.rule),
                '{{}}'::jsonb, m.agent_id, ''
            FROM {message} m JOIN {customer} c ON c.id = m.customer_id
            WHERE m.id = ANY(%(ids)s)
            ORDER BY m.id
            """,
            {
                "kinds": list(ChannelKind.values),
                "other": ChannelKind.OTHER.value,
                "type": Interaction.Type.MESSAGE.value,
                "direction": Interaction.Direction.OUTBOUND.value,
                "name": EVENT_NAMES[status],
                "with_reason": status in WITH_REASON,
                "now": now,
                "status": status,
                "ids": list(ids),
            },
        )
